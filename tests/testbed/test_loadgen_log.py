"""LoadGen's detail and summary logs → verdict, percentiles, power window (recorded from a real run)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from aicc.testbed.loadgen_log import parse_detail, ran_out_of_queries, summary_verdict

DATA = Path(__file__).parent / "data"


def test_recorded_single_stream_log_gives_verdict_percentiles_and_power_window() -> None:
    log = parse_detail((DATA / "mlperf_log_detail.txt").read_text())
    assert log.scenario == "SingleStream" and log.mode == "PerformanceOnly"
    assert log.valid is True and log.early_stopping_met is True
    assert log.percentile(90.0) == 1195249 and log.percentile(99.0) == 1309714
    assert log.query_count == 444 and log.qps == 888.7
    assert log.power_begin == dt.datetime(2026, 12, 1, 23, 58, 52, 803000)
    assert log.power_end is not None and (log.power_end - log.power_begin).total_seconds() == 0.502
    assert log.errors == [] and log.loadgen_version and log.loadgen_version.startswith("6.0")
    assert summary_verdict((DATA / "mlperf_log_summary.txt").read_text()) is True


def test_invalid_verdict_errors_and_garbage_lines() -> None:
    text = "\n".join([
        "not a record",
        ':::MLLOG {"key": "result_validity", "value": "INVALID", "metadata": {}}',
        ':::MLLOG {"key": "error_generic", "value": "Ran out of generated queries to issue.", '
        '"metadata": {"is_error": true}}',
        ':::MLLOG {"key": "result_99.00_percentile_latency_ns", "value": 12',  # cut short: skipped
        ':::MLLOG {"key": "result_samples_per_second", "value": 1234.5, "metadata": {}}',
    ])
    log = parse_detail(text)
    assert log.valid is False and log.samples_per_s == 1234.5 and log.percentiles_ns == {}
    assert ran_out_of_queries(log)
    assert summary_verdict("Result is : INVALID\n") is False and summary_verdict("nothing") is None
