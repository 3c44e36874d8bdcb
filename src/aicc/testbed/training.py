"""Training as a second kind of benchmark: steps/s and time-to-quality on a small task, no LoadGen.

MLPerf Training's figure of merit is the time to reach a target quality; throughput alone would reward a run
that steps fast and learns nothing. A training result is valid only when the target was reached within the
time budget, and reports both the steps/s and the seconds it took.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class TrainingOutcome:
    steps: int
    seconds: float
    batch: int
    quality: float
    target: float
    time_to_quality_s: float | None
    """None when the target was not reached within the budget."""
    evaluations: list[tuple[int, float, float]]
    """(step, seconds, validation quality) at each evaluation."""

    @property
    def reached(self) -> bool:
        return self.time_to_quality_s is not None


class TrainingWorkload(Protocol):
    name: str
    workload_class: str
    target: float

    def train(self, budget_s: float, corrupt: bool = False) -> TrainingOutcome:
        """Train from a fixed seed until the target or the budget; ``corrupt`` zeroes the gradients."""
        ...

    def provenance(self) -> dict[str, str]:
        ...


class NumpyMLPTraining:
    """A two-layer perceptron learning ten Gaussian clusters with SGD and momentum, from a fixed seed."""

    name = "train-mlp"
    workload_class = "small-training"
    target = 0.88
    batch = 64
    eval_every = 25
    lr = 0.001
    """Small on purpose: the target takes about a thousand steps, so time-to-quality measures the machine."""

    def _data(self) -> tuple[Any, Any, Any, Any]:
        import numpy as np

        rng = np.random.default_rng(11)
        centers = rng.standard_normal((10, 32)) * 0.6  # overlapping clusters: about 0.9 is reachable
        y = rng.integers(0, 10, 5120)
        x = centers[y] + rng.standard_normal((5120, 32))
        return x[:4096].astype(np.float32), y[:4096], x[4096:].astype(np.float32), y[4096:]

    def train(self, budget_s: float, corrupt: bool = False) -> TrainingOutcome:
        import numpy as np

        xt, yt, xv, yv = self._data()
        rng = np.random.default_rng(5)
        w1 = (rng.standard_normal((32, 64)) / 6).astype(np.float32)
        w2 = (rng.standard_normal((64, 10)) / 8).astype(np.float32)
        v1, v2 = np.zeros_like(w1), np.zeros_like(w2)
        lr, mom = self.lr, 0.9
        evaluations: list[tuple[int, float, float]] = []
        reached: float | None = None
        quality = 0.0
        step = 0
        start = time.perf_counter()
        while time.perf_counter() - start < budget_s:
            idx = rng.integers(0, len(xt), self.batch)
            x, y = xt[idx], yt[idx]
            h = np.maximum(x @ w1, 0)
            logits = h @ w2
            p = np.exp(logits - logits.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            p[np.arange(self.batch), y] -= 1
            g2 = h.T @ p / self.batch
            g1 = x.T @ ((p @ w2.T) * (h > 0)) / self.batch
            if corrupt:
                g1, g2 = g1 * 0, g2 * 0
            v1, v2 = mom * v1 - lr * g1, mom * v2 - lr * g2
            w1, w2 = w1 + v1, w2 + v2
            step += 1
            if step % self.eval_every == 0:
                quality = float(((np.maximum(xv @ w1, 0) @ w2).argmax(1) == yv).mean())
                elapsed = time.perf_counter() - start
                evaluations.append((step, elapsed, quality))
                if quality >= self.target:
                    reached = elapsed
                    break
        seconds = time.perf_counter() - start
        return TrainingOutcome(step, seconds, self.batch, quality, self.target, reached, evaluations)

    def provenance(self) -> dict[str, str]:
        return {"model": "numpy 32-64-10 MLP, SGD+momentum, seed 5; data seed 11", "numpy": version("numpy")}


TRAINING_WORKLOADS: dict[str, type[NumpyMLPTraining]] = {"train-mlp": NumpyMLPTraining}


def training_result(outcome: TrainingOutcome) -> dict[str, Any]:
    """The ``results`` entry of a training run (scenario ``Training``)."""
    steps_per_s = outcome.steps / outcome.seconds if outcome.seconds else 0.0
    reasons = [] if outcome.reached else [
        f"target quality {outcome.target} not reached in {outcome.seconds:.1f} s (best {outcome.quality:.3f})"]
    return {
        "scenario": "Training", "metric": "time_to_quality_s", "value": outcome.time_to_quality_s,
        "steps_per_s": steps_per_s, "samples_per_s": steps_per_s * outcome.batch, "steps": outcome.steps,
        "quality": outcome.quality, "target": outcome.target, "evaluations": outcome.evaluations[-50:],
        "loadgen_valid": None, "errors": [], "warnings": [], "valid": outcome.reached, "invalid_reasons": reasons,
        "perf_accuracy": {"metric": "validation accuracy", "value": outcome.quality, "threshold": outcome.target,
                          "passed": outcome.reached},
        "latency_ns": {},
    }
