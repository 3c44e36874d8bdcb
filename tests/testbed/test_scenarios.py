"""Real LoadGen runs, briefly: every scenario valid after the pilot, a real ONNX workload with its accuracy
check, and a fast-but-wrong run rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from aicc.testbed.run import RESULT_FILE, _loadgen_run, benchmark, main
from aicc.testbed.scenarios import RunConfig, Settings
from aicc.testbed.workloads import get
from aicc.testbed.workloads.base import corrupt

pytest.importorskip("mlperf_loadgen")
QUICK = RunConfig(duration_ms=300, min_queries=64, max_batch=16, server_fractions=(0.02, 0.05))


def test_every_scenario_runs_briefly_and_is_valid(tmp_path: Path) -> None:
    doc = benchmark("numpy-mlp", ["SingleStream", "MultiStream", "Server", "Offline"], tmp_path, QUICK,
                    flavor="cpu")
    by = {r["scenario"]: r for r in doc["results"]}
    for scenario, r in by.items():
        assert r["valid"], (scenario, r["invalid_reasons"])
        assert r["loadgen_valid"] is True and not r["errors"]
    assert by["SingleStream"]["metric"] == "p90_latency_ms" and by["SingleStream"]["latency_ns"]["p90"] > 0
    assert by["MultiStream"]["metric"] == "p99_latency_ms"
    assert by["Server"]["metric"] == "server_qps" and any(t["valid"] for t in by["Server"]["server_tries"])
    assert by["Server"]["latency_ns"]["p99"] <= by["Server"]["latency_bound_ns"]
    assert by["Offline"]["samples_per_s"] > 0
    assert doc["accuracy"]["passed"] and doc["provenance"]["packages"]["mlcommons-loadgen"] != "absent"
    assert (tmp_path / RESULT_FILE).is_file() and (tmp_path / "loadgen" / "Offline" / "mlperf_log_detail.txt").is_file()


def test_without_calibration_loadgen_runs_out_of_queries_and_the_run_is_invalid(tmp_path: Path) -> None:
    w = get("numpy-mlp")
    w.load()
    told = Settings("SingleStream", {"min_duration_ms": 300, "min_query_count": 64,
                                     "single_stream_expected_latency_ns": 50_000_000})  # 1000x too slow
    log, _, errors, _ = _loadgen_run(w, told, tmp_path, "PerformanceOnly", QUICK, False)
    assert log.valid is False and any("ran out of generated queries" in e for e in errors)


def test_real_onnx_workload_is_valid_and_accurate(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("rapidocr_onnxruntime")
    assert main(["--workload", "ocr-cls", "--scenario", "SingleStream,Offline", "--out", str(tmp_path),
                 "--duration-ms", "300", "--min-queries", "64"]) == 0
    import json

    doc = json.loads((tmp_path / RESULT_FILE).read_text())
    assert doc["workload_class"] == "ocr-orientation" and doc["accuracy"]["value"] == 1.0
    assert doc["accuracy"]["details"]["top1_vs_ground_truth"] == 1.0
    assert doc["provenance"]["packages"]["model_sha256"]
    assert all(r["valid"] for r in doc["results"])


def test_a_fast_but_wrong_run_is_rejected(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("rapidocr_onnxruntime")
    assert main(["--workload", "ocr-cls", "--scenario", "Offline", "--out", str(tmp_path), "--duration-ms", "300",
                 "--corrupt"]) == 1
    import json

    doc = json.loads((tmp_path / RESULT_FILE).read_text())
    (r,) = doc["results"]
    assert r["loadgen_valid"] is True  # LoadGen saw a perfectly good run...
    assert not r["valid"] and "accuracy check failed" in r["invalid_reasons"]  # ...the reference did not


def test_text_recognition_matches_its_stored_reference_and_rejects_a_corrupted_output() -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("rapidocr_onnxruntime")
    w = get("ocr-rec")
    w.load()
    outputs: dict[int, object] = {}
    for start in range(0, 32, 16):  # half the set keeps the test short; check() compares what it is given
        outputs |= dict(zip(range(start, start + 16), w.predict(list(range(start, start + 16))), strict=True))
    good = w.check(outputs)
    assert good.checked == 32 and good.passed and good.details["exact_match_with_ground_truth"] > 0.8
    bad = dict(outputs)
    for i in range(0, 32, 8):  # one sample in eight: 87.5 % agreement, below the 95 % bar
        bad[i] = corrupt(bad[i])
    assert not w.check(bad).passed


def test_an_offline_run_told_too_low_a_qps_is_recalibrated_from_its_own_measurement(tmp_path: Path) -> None:
    from aicc.testbed.run import recalibrate

    w = get("numpy-mlp")
    w.load()
    told = Settings("Offline", {"min_duration_ms": 200, "min_query_count": 1, "offline_expected_qps": 50.0})
    log, _, _, _ = _loadgen_run(w, told, tmp_path / "a", "PerformanceOnly", QUICK, False)
    assert log.valid is False and log.min_duration_met is False
    settings = told
    for attempt in range(3):  # as the runner does: each try is told what the last one measured
        again = recalibrate("Offline", settings, log)
        if again is None:
            break
        assert again.values["offline_expected_qps"] >= 2 * float(settings.values["offline_expected_qps"])
        settings = again
        log, _, _, _ = _loadgen_run(w, settings, tmp_path / str(attempt), "PerformanceOnly", QUICK, False)
    assert log.valid is True and settings is not told


def test_dicom_pipeline_matches_its_reference_and_rejects_a_skipped_step() -> None:
    pytest.importorskip("pydicom")
    w = get("dicom-prep")
    w.load()
    outputs = dict(enumerate(w.predict(list(range(12)))))
    assert w.check(outputs).passed
    # The five MR files are one image in five encodings (RLE, big-endian, implicit VR, padded): one digest.
    assert outputs[1] == outputs[2] == outputs[3] == outputs[4] == outputs[5]
    skipped = dict(outputs)
    skipped[0] = [v * 1.01 for v in skipped[0]]  # e.g. a window applied wrongly on one CT slice
    assert not w.check(skipped).passed


def test_board_energy_over_loadgens_power_window(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from aicc.testbed import run

    def watts_100() -> tuple[float | None, float | None]:
        return time.time() * 100.0, 100.0  # a counter rising 100 J/s: a 100 W board

    monkeypatch.setattr(run, "_energy_reader", lambda vendor: (watts_100, "board energy; not MLPerf Power"))
    doc = benchmark("numpy-mlp", ["Offline"], tmp_path, QUICK, flavor="cpu")
    e = doc["results"][0]["energy"]
    assert e["source"] == "counter" and "not MLPerf Power" in e["label"]
    assert e["joules"] == pytest.approx(100.0 * e["window_s"], rel=0.05) and e["window_s"] >= 0.3
    assert e["samples_per_s_per_w"] == pytest.approx(1 / e["j_per_sample"])
