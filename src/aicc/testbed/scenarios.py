"""LoadGen settings per scenario, calibrated from a short pilot: pure arithmetic, no LoadGen import.

Without calibration LoadGen generates queries for the latency or QPS it was *told* to expect; tell it too
little and it "ran out of generated queries" before the minimum duration, tell it too much and an Offline
run ends early and fails its minimum duration. The pilot measures the real figures first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from aicc.core.benchmarks import SCENARIOS


@dataclass(frozen=True, slots=True)
class Pilot:
    single_latency_s: float
    """Median latency of one-sample predictions."""
    multi_latency_s: float
    """Median latency of one MultiStream query (``samples_per_query`` samples)."""
    batch_throughput: float
    """Samples/s at the largest batch, from the fastest batch (what Offline is told to expect)."""
    typical_throughput: float = 0.0
    """Samples/s at the largest batch, from the median batch (what Server targets are fractions of)."""


@dataclass(frozen=True, slots=True)
class RunConfig:
    duration_ms: int = 10_000
    """LoadGen's minimum duration per performance run (MLPerf's is 600 s; ours is a quick comparison)."""
    min_queries: int = 100
    samples_per_query: int = 8
    """MultiStream query size (MLPerf's default)."""
    max_batch: int = 16
    latency_bound_ms: float | None = None
    """Server p99 bound; None: 20 × the pilot's single-sample latency, at least 50 ms (a shared CPU's tail)."""
    server_fractions: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7, 0.85)
    """Server target QPS tried, as fractions of the pilot's batch throughput (highest valid one wins; the search
    stops at the first invalid one above a valid one). Low first: a tiny model's per-query overhead in Python,
    not its batch throughput, bounds what a Python SUT can answer."""


@dataclass(slots=True)
class Settings:
    scenario: str
    values: dict[str, Any] = field(default_factory=dict)
    """TestSettings attribute → value, applied as is."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


EARLY_STOPPING_QUERIES = {"SingleStream": 64, "MultiStream": 662, "Server": 662}
"""Fewest queries with which LoadGen's early-stopping check can pass (p90 for SingleStream, p99 otherwise, with
no query over the bound): fewer and the run is INVALID however fast it was."""


def server_bound_ns(pilot: Pilot, cfg: RunConfig) -> int:
    bound_ms = cfg.latency_bound_ms if cfg.latency_bound_ms else max(50.0, 20_000 * pilot.single_latency_s)
    return int(bound_ms * 1e6)


def settings_for(scenario: str, pilot: Pilot, cfg: RunConfig, server_qps: float | None = None) -> Settings:
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r} (known: {', '.join(SCENARIOS)})")
    v: dict[str, Any] = {"min_duration_ms": cfg.duration_ms,
                         "min_query_count": max(cfg.min_queries, EARLY_STOPPING_QUERIES.get(scenario, 1))}
    if scenario == "SingleStream":
        v["single_stream_expected_latency_ns"] = max(1, int(pilot.single_latency_s * 1e9))
    elif scenario == "MultiStream":
        v["multi_stream_samples_per_query"] = cfg.samples_per_query
        v["multi_stream_expected_latency_ns"] = max(1, int(pilot.multi_latency_s * 1e9))
    elif scenario == "Offline":
        # Tell LoadGen a little more than the pilot saw: a faster run must still last the minimum duration.
        v["offline_expected_qps"] = max(1.0, pilot.batch_throughput * 1.5)
        v["min_query_count"] = 1
    else:
        v["server_target_qps"] = max(0.1, server_qps if server_qps else server_targets(pilot, cfg)[0])
        v["server_target_latency_ns"] = server_bound_ns(pilot, cfg)
    return Settings(scenario, v)


def server_targets(pilot: Pilot, cfg: RunConfig) -> list[float]:
    """Target QPS to try, lowest first: the search stops at the first invalid one above a valid one."""
    base = pilot.typical_throughput or pilot.batch_throughput
    return [round(max(0.1, base * f), 2) for f in cfg.server_fractions]
