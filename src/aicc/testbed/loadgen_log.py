"""LoadGen's logs → the figures a result needs. Pure: text in, dataclass out.

The detail log (``mlperf_log_detail.txt``, one ``:::MLLOG {json}`` per line) is the source of truth: it has
the verdict, every percentile, errors and the power window. The summary is parsed only for its verdict, as a
cross-check, because its layout is for people and changes between LoadGen versions.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

_PREFIX = ":::MLLOG "
_PCT = re.compile(r"^result_(\d+(?:\.\d+)?)_percentile_latency_ns$")


@dataclass(slots=True)
class LoadGenLog:
    scenario: str | None = None
    mode: str | None = None
    valid: bool | None = None
    """LoadGen's ``result_validity``: None when the log has no verdict (the run did not finish)."""
    percentiles_ns: dict[float, int] = field(default_factory=dict)
    """e.g. {50.0: …, 90.0: …, 99.0: …}."""
    mean_ns: float | None = None
    min_ns: float | None = None
    max_ns: float | None = None
    qps: float | None = None
    """``result_qps_without_loadgen_overhead`` (queries per second the SUT sustained)."""
    scheduled_qps: float | None = None
    """Server: ``result_scheduled_samples_per_sec``, the Poisson rate LoadGen actually issued."""
    completed_per_s: float | None = None
    samples_per_s: float | None = None
    """Offline: ``result_samples_per_second``, the scenario's figure of merit."""
    perf_constraints_met: bool | None = None
    """Server: the latency bound held at the target QPS."""
    samples_per_query: int = 1
    query_count: int | None = None
    min_duration_met: bool | None = None
    min_queries_met: bool | None = None
    early_stopping_met: bool | None = None
    power_begin: dt.datetime | None = None
    power_end: dt.datetime | None = None
    """The window LoadGen marks for power measurement, as naive local times (LoadGen writes local time)."""
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    target_qps: float | None = None
    target_latency_ns: int | None = None
    loadgen_version: str | None = None

    def percentile(self, p: float) -> int | None:
        return self.percentiles_ns.get(p)


def _power_time(value: str) -> dt.datetime | None:
    for fmt in ("%m-%d-%Y %H:%M:%S.%f", "%m-%d-%Y %H:%M:%S"):
        try:
            return dt.datetime.strptime(value, fmt)
        except ValueError:
            continue
    return None


def parse_detail(text: str) -> LoadGenLog:
    """Parse a detail log; lines that are not MLLOG records, or are cut short, are skipped."""
    log = LoadGenLog()
    for line in text.splitlines():
        if not line.startswith(_PREFIX):
            continue
        try:
            rec: dict[str, Any] = json.loads(line[len(_PREFIX):])
        except json.JSONDecodeError:
            continue
        key, value = rec.get("key"), rec.get("value")
        meta = rec.get("metadata") or {}
        if meta.get("is_error"):
            log.errors.append(f"{key}: {value}")
        elif meta.get("is_warning"):
            log.warnings.append(f"{key}: {value}")
        _apply(log, str(key), value)
    return log


def _apply(log: LoadGenLog, key: str, value: Any) -> None:
    m = _PCT.match(key)
    if m:
        log.percentiles_ns[float(m.group(1))] = int(value)
    elif key == "result_validity":
        log.valid = str(value).upper() == "VALID"
    elif key == "effective_scenario":
        log.scenario = str(value)
    elif key == "effective_test_mode":
        log.mode = str(value)
    elif key == "result_mean_latency_ns":
        log.mean_ns = float(value)
    elif key == "result_min_latency_ns":
        log.min_ns = float(value)
    elif key == "result_max_latency_ns":
        log.max_ns = float(value)
    elif key == "result_qps_without_loadgen_overhead":
        log.qps = float(value)
    elif key == "result_scheduled_samples_per_sec":
        log.scheduled_qps = float(value)
    elif key == "result_completed_samples_per_sec":
        log.completed_per_s = float(value)
    elif key == "result_samples_per_second":
        log.samples_per_s = float(value)
    elif key == "result_perf_constraints_met":
        log.perf_constraints_met = bool(value)
    elif key == "effective_samples_per_query":
        log.samples_per_query = int(value)
    elif key == "result_query_count":
        log.query_count = int(value)
    elif key == "result_min_duration_met":
        log.min_duration_met = bool(value)
    elif key == "result_min_queries_met":
        log.min_queries_met = bool(value)
    elif key == "early_stopping_met":
        log.early_stopping_met = bool(value)
    elif key == "power_begin":
        log.power_begin = _power_time(str(value))
    elif key == "power_end":
        log.power_end = _power_time(str(value))
    elif key == "effective_target_qps":
        log.target_qps = float(value)
    elif key == "effective_target_latency_ns":
        log.target_latency_ns = int(value)
    elif key == "loadgen_version":
        log.loadgen_version = str(value)


def summary_verdict(text: str) -> bool | None:
    """``Result is : VALID`` → True; INVALID → False; absent → None."""
    m = re.search(r"^Result is\s*:\s*(\w+)", text, re.MULTILINE)
    return None if m is None else m.group(1).upper() == "VALID"


def ran_out_of_queries(log: LoadGenLog) -> bool:
    """LoadGen's tell-tale of a badly calibrated run: it generated too few queries for the minimum duration."""
    return any("ran out of generated queries" in m.lower() for m in log.errors + log.warnings)
