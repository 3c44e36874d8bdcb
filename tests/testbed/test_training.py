"""Training as a second kind: steps/s and time-to-quality; a run that does not learn is invalid."""

from __future__ import annotations

import json
from pathlib import Path

from aicc.core.benchmarks import ResultFacts, build_matrix
from aicc.testbed.results import rows_from_document
from aicc.testbed.run import RESULT_FILE, main


def test_training_reaches_its_target_and_feeds_the_matrix(tmp_path: Path) -> None:
    assert main(["--workload", "train-mlp", "--out", str(tmp_path), "--duration-ms", "20000"]) == 0
    doc = json.loads((tmp_path / RESULT_FILE).read_text())
    (r,) = doc["results"]
    assert r["scenario"] == "Training" and r["valid"] and r["quality"] >= r["target"]
    assert r["value"] > 0 and r["steps_per_s"] > 0 and r["evaluations"]
    (row,) = rows_from_document(doc, flavor="cpu", units=1)
    assert row["valid"] and row["invalid_reasons"] == [] and row["metric"] == "time_to_quality_s"
    m = build_matrix([ResultFacts(row["workload_class"], "cpu", "Training", True, row["samples_per_s"])])
    assert m["small-training"]["cpu"] == row["samples_per_s"]


def test_training_that_does_not_learn_is_invalid(tmp_path: Path) -> None:
    assert main(["--workload", "train-mlp", "--out", str(tmp_path), "--duration-ms", "300", "--corrupt"]) == 1
    doc = json.loads((tmp_path / RESULT_FILE).read_text())
    (row,) = rows_from_document(doc)
    assert not row["valid"] and "accuracy check failed" in row["invalid_reasons"]
