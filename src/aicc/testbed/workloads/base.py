"""The interface a benchmark workload implements, and the accuracy verdict it returns.

A workload owns its data set (shipped inside a Python package: nothing is downloaded), its model and
its *reference outputs*. The runner times ``predict`` under LoadGen, then hands every output it saw to
``check``: a run whose outputs disagree with the reference is invalid however fast it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Accuracy:
    metric: str
    """What ``value`` measures, e.g. "agreement with reference" or "top-1"."""
    value: float
    threshold: float
    checked: int
    """Samples compared."""
    details: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.checked > 0 and self.value >= self.threshold


class Provenanced(Protocol):
    def provenance(self) -> dict[str, str]:
        """What produced the figures: model files and hashes, package versions."""
        ...


class Workload(Protocol):
    name: str
    workload_class: str
    """The class jobs declare (``aicc submit --class``); the matrix is keyed by it."""
    sample_count: int
    """Samples in the data set (LoadGen's total sample count)."""

    def load(self) -> None:
        """Prepare the model and the data set in memory (outside any timed window)."""
        ...

    def predict(self, indices: Sequence[int]) -> list[Any]:
        """Outputs for these samples, one per index, JSON-serialisable."""
        ...

    def check(self, outputs: Mapping[int, Any]) -> Accuracy:
        """Compare outputs (sample index → output) with the stored reference."""
        ...

    def provenance(self) -> dict[str, str]:
        """Model file, its SHA-256 and the packages that shipped it."""
        ...


def corrupt(value: Any) -> Any:
    """A wrong answer of the same type: what a broken kernel or a bad quantisation would return.

    Used by ``--corrupt`` to prove that the accuracy check rejects a fast-but-wrong run.
    """
    if isinstance(value, str):
        return value[::-1] + "#"
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 1.0
    if isinstance(value, list):
        return [corrupt(v) for v in value]
    return None
