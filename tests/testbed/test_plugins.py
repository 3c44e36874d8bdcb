"""A center adds its own workload through an entry point, without touching AICC; built-ins cannot be replaced."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from aicc.testbed import workloads
from aicc.testbed.workloads.base import Accuracy


class Echo:
    name = "echo"
    workload_class = "center-echo"
    sample_count = 8

    def load(self) -> None:
        pass

    def predict(self, indices: Sequence[int]) -> list[Any]:
        return list(indices)

    def check(self, outputs: Mapping[int, Any]) -> Accuracy:
        ok = sum(outputs[i] == i for i in outputs)
        return Accuracy("identity", ok / len(outputs), 1.0, len(outputs))

    def provenance(self) -> dict[str, str]:
        return {"model": "echo"}


def test_entry_point_workloads_are_found_and_builtins_win(monkeypatch: pytest.MonkeyPatch) -> None:
    eps = [EntryPoint("echo", f"{__name__}:Echo", workloads.ENTRY_POINT_GROUP),
           EntryPoint("numpy-mlp", f"{__name__}:Echo", workloads.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(workloads, "entry_points", lambda group: eps if group == workloads.ENTRY_POINT_GROUP else [])
    found = workloads.available()
    assert found["echo"] == f"{__name__}:Echo" and found["numpy-mlp"] == "builtin"
    w = workloads.get("echo")
    assert w.workload_class == "center-echo" and w.check({i: i for i in range(8)}).passed
    assert type(workloads.get("numpy-mlp")).__name__ == "NumpyMLP"
    with pytest.raises(workloads.UnknownWorkload, match="known: dicom-prep, echo, numpy-mlp"):
        workloads.get("nope")
