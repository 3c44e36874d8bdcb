"""A tiny pure-NumPy workload: the fallback where ONNX Runtime or the OCR models cannot be installed.

A fixed-seed two-layer perceptron over fixed-seed inputs; the reference is the class it picks for each
input, computed from the same seed at load time in float64 and compared with the float32 run. It measures
little but the harness itself, and says so in its class name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.metadata import version
from typing import Any

from aicc.testbed.workloads.base import Accuracy


class NumpyMLP:
    name = "numpy-mlp"
    workload_class = "harness-check"
    sample_count = 256
    threshold = 0.99

    def __init__(self) -> None:
        self._w1: Any = None
        self._w2: Any = None
        self._x: Any = None
        self._reference: list[int] = []

    def load(self) -> None:
        import numpy as np

        rng = np.random.default_rng(7)
        # Small enough that BLAS stays on one thread: on a busy machine its spinning helper threads, not the
        # arithmetic, would set the latency.
        x = rng.standard_normal((self.sample_count, 64))
        w1, w2 = rng.standard_normal((64, 96)) / 8, rng.standard_normal((96, 10)) / 10
        self._reference = [int(k) for k in (np.maximum(x @ w1, 0) @ w2).argmax(1)]
        self._x, self._w1, self._w2 = x.astype(np.float32), w1.astype(np.float32), w2.astype(np.float32)

    def predict(self, indices: Sequence[int]) -> list[Any]:
        import numpy as np

        h = np.maximum(self._x[list(indices)] @ self._w1, 0)
        return [int(k) for k in (h @ self._w2).argmax(1)]

    def check(self, outputs: Mapping[int, Any]) -> Accuracy:
        seen = [i for i in outputs if 0 <= i < len(self._reference)]
        agree = sum(outputs[i] == self._reference[i] for i in seen)
        return Accuracy("agreement with float64 reference", agree / len(seen) if seen else 0.0, self.threshold,
                        len(seen))

    def provenance(self) -> dict[str, str]:
        return {"model": "numpy-mlp(seed=7)", "numpy": version("numpy")}
