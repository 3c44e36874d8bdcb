"""`aicc bench …` against a live server running its controller: a real benchmark job, end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest

from tests.cli.conftest import Cli, cli

__all__ = ["cli"]


def test_bench_run_wait_list_compare_and_matrix_export(cli: Cli, tmp_path: Path) -> None:
    pytest.importorskip("mlperf_loadgen")
    pytest.importorskip("rapidocr_onnxruntime")
    bob = cli.tokens["bob"]
    rows = cast(list[dict[str, Any]], cli.json("bench", "run", "--flavor", "cpu", "--workload", "ocr-cls",
                                               "-s", "Offline", "--duration-ms", "300", "--wait", token=bob))
    (row,) = rows
    assert row["valid"] and row["flavor"] == "cpu" and row["workload_class"] == "ocr-orientation"
    listed = cast(list[dict[str, Any]], cli.json("bench", "list", "--class", "ocr-orientation", token=bob))
    assert [r["id"] for r in listed] == [row["id"]]
    compared = cast(list[dict[str, Any]], cli.json("bench", "compare", "--class", "ocr-orientation", token=bob))
    assert compared[0]["flavor"] == "cpu" and compared[0]["vs_best"] == 1.0
    table = cli.run("bench", "compare", "--class", "ocr-orientation", token=bob).stdout
    assert "not MLPerf Power" in table
    export = tmp_path / "matrix.json"
    cli.run("bench", "matrix", "--export", str(export), token=bob)
    assert "cpu" in json.loads(export.read_text())["matrix"]["ocr-orientation"]
    shown = cli.run("job", "show", str(row["job_id"]), token=bob).stdout
    assert "placement_reason" in shown and "only measured flavor for class" not in shown  # class-less job
    assert "ocr-cls" in cli.run("bench", "workloads", token=bob).stdout
