"""``python -m aicc.testbed.run``: one benchmark job — pilot, LoadGen scenarios, accuracy, energy, result JSON.

Runs inside an ordinary AICC job (``aicc bench run`` submits it), so it is charged, queued and placed like any
other work, and writes ``bench-result.json`` (plus LoadGen's logs under ``loadgen/``) into its working
directory, the job's output folder. ``aicc bench ingest`` (or the API) stores the result.

Order: load the workload (outside any timed window) → pilot → each scenario's performance run(s) → one
accuracy run of every sample. The outputs of the timed runs are checked against the reference too: a run
that is fast because it stopped computing is caught where it was fast.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import queue
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from aicc.core.benchmarks import SCENARIOS, validity
from aicc.testbed.energy import BOARD_LABEL, RAPL_LABEL, Sampler, nvidia_reader, rapl_reader
from aicc.testbed.loadgen_log import LoadGenLog, parse_detail, ran_out_of_queries, summary_verdict
from aicc.testbed.provenance import provenance, units_used
from aicc.testbed.scenarios import Pilot, RunConfig, Settings, server_targets, settings_for
from aicc.testbed.trust import runner_identity
from aicc.testbed.workloads import get as get_workload
from aicc.testbed.workloads.base import Accuracy, Workload, corrupt

RESULT_FILE = "bench-result.json"
SCHEMA = "aicc.testbed.result/1"
DEFAULTS = RunConfig()
MAX_RECALIBRATIONS = 3
NOTE = "MLPerf-style run with MLCommons LoadGen; not a compliant MLPerf submission (short durations, own data)"


class SUT:
    """One worker thread answers LoadGen: it batches whatever queries are waiting (up to ``max_batch``),
    so Server gets dynamic batching and Offline gets batches, with one code path."""

    def __init__(self, workload: Workload, max_batch: int, bad: bool) -> None:
        self.workload = workload
        self.max_batch = max_batch
        self.bad = bad
        self.outputs: dict[int, Any] = {}
        self.errors: list[str] = []
        self._q: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="sut", daemon=True)
        self._thread.start()

    def issue(self, samples: Sequence[Any]) -> None:
        for s in samples:
            self._q.put(s)

    def flush(self) -> None:
        """LoadGen calls this at the end; nothing is held back."""

    def stop(self) -> None:
        self._q.put(None)
        self._thread.join(timeout=10)

    def _work(self) -> None:
        import mlperf_loadgen as lg

        while True:
            first = self._q.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    nxt = self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._q.put(None)
                    break
                batch.append(nxt)
            try:
                preds = self.workload.predict([s.index for s in batch])
            except Exception as e:
                self.errors.append(f"predict failed: {e!r}")
                preds = [None] * len(batch)
            for s, p in zip(batch, preds, strict=True):
                self.outputs[s.index] = corrupt(p) if self.bad else p
            lg.QuerySamplesComplete([lg.QuerySampleResponse(s.id, 0, 0) for s in batch])


def pilot(workload: Workload, cfg: RunConfig, budget_s: float = 1.0) -> Pilot:
    """A few predictions timed here, not by LoadGen, to tell LoadGen what to expect.

    Each figure errs on the side that keeps the run valid on a busy machine: latencies from the median
    (LoadGen then generates *more* queries than needed, never too few), throughput from the fastest batch
    (an Offline run told to expect more samples lasts at least its minimum duration).
    """
    n = workload.sample_count
    workload.predict([0])  # first call pays for lazy initialisation

    def times(fn: Callable[[], object], limit_s: float) -> list[float]:
        out: list[float] = []
        start = time.perf_counter()
        while len(out) < 5 or (time.perf_counter() - start < limit_s and len(out) < 200):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
        return out

    single = statistics.median(times(lambda: workload.predict([int(time.perf_counter_ns()) % n]), budget_s / 3))
    spq = min(cfg.samples_per_query, n)
    multi = statistics.median(times(lambda: workload.predict(list(range(spq))), budget_s / 3))
    batch = min(cfg.max_batch, n)
    per_batch = times(lambda: workload.predict(list(range(batch))), budget_s / 3)
    return Pilot(single, multi, batch / min(per_batch), batch / statistics.median(per_batch))


def _loadgen_run(workload: Workload, settings: Settings, outdir: Path, mode: str, cfg: RunConfig,
                 bad: bool) -> tuple[LoadGenLog, dict[int, Any], list[str], tuple[float, float]]:
    import mlperf_loadgen as lg

    outdir.mkdir(parents=True, exist_ok=True)
    ts = lg.TestSettings()
    ts.scenario = getattr(lg.TestScenario, settings.scenario)
    ts.mode = getattr(lg.TestMode, mode)
    for key, value in settings.values.items():
        setattr(ts, key, value)
    log_out = lg.LogOutputSettings()
    log_out.outdir = str(outdir)
    log_out.copy_summary_to_stdout = False
    log_settings = lg.LogSettings()
    log_settings.log_output = log_out
    log_settings.enable_trace = False
    sut_impl = SUT(workload, cfg.max_batch, bad)
    sut = lg.ConstructSUT(sut_impl.issue, sut_impl.flush)
    n = workload.sample_count
    qsl = lg.ConstructQSL(n, n, lambda _s: None, lambda _s: None)
    began = time.time()
    try:
        lg.StartTestWithLogSettings(sut, qsl, ts, log_settings)
    finally:
        ended = time.time()
        lg.DestroyQSL(qsl)
        lg.DestroySUT(sut)
        sut_impl.stop()
    log = parse_detail((outdir / "mlperf_log_detail.txt").read_text(encoding="utf-8", errors="replace"))
    verdict = summary_verdict((outdir / "mlperf_log_summary.txt").read_text(encoding="utf-8", errors="replace"))
    errors = list(sut_impl.errors)
    if mode == "PerformanceOnly" and verdict is not None and log.valid is not None and verdict != log.valid:
        errors.append("LoadGen's summary and detail logs disagree on validity")
    if ran_out_of_queries(log):
        errors.append("LoadGen ran out of generated queries: the expected latency or QPS it was given was off")
    return log, sut_impl.outputs, errors, (began, ended)


def calibrate(workload: Workload, p: Pilot, cfg: RunConfig, out: Path, bad: bool,
              duration_ms: int = 100) -> Pilot:
    """A short Offline run through LoadGen itself: the throughput a scenario will really see, LoadGen's and
    the SUT's per-sample overhead included (for a tiny model that overhead, not the model, is the limit)."""
    settings = Settings("Offline", {"min_duration_ms": duration_ms, "min_query_count": 1,
                                    "offline_expected_qps": max(1.0, p.typical_throughput or p.batch_throughput)})
    log, _, _, _ = _loadgen_run(workload, settings, out / "loadgen" / "pilot", "PerformanceOnly", cfg, bad)
    if not log.samples_per_s:
        return p
    return replace(p, batch_throughput=log.samples_per_s, typical_throughput=log.samples_per_s)


def recalibrate(scenario: str, settings: Settings, log: LoadGenLog) -> Settings | None:
    """New settings when a run was invalid only because LoadGen was told the wrong speed, else None.

    Offline: finished before its minimum duration (faster than told). Latency scenarios: ran out of generated
    queries (told a latency too long). Both are calibration faults, not the system's; a run invalid for any
    other reason (latency bound, early stopping on a slow tail) is not retried.
    """
    if log.valid is not False:
        return None
    values = dict(settings.values)
    if scenario == "Offline" and log.min_duration_met is False and log.max_ns:
        # The run lasted max_ns; scale what LoadGen was told so the next one lasts the minimum, with margin.
        short_by = values["min_duration_ms"] * 1e6 / log.max_ns
        values["offline_expected_qps"] = float(values["offline_expected_qps"]) * max(2.0, 1.5 * short_by)
    elif ran_out_of_queries(log) and scenario in ("SingleStream", "MultiStream") and log.min_ns:
        key = "single_stream_expected_latency_ns" if scenario == "SingleStream" else "multi_stream_expected_latency_ns"
        values[key] = max(1, int(log.min_ns))
    else:
        return None
    return Settings(scenario, values)


def _window(log: LoadGenLog, fallback: tuple[float, float]) -> tuple[float, float]:
    """LoadGen's power window as Unix times (it logs local wall-clock), or the run's own span."""
    if log.power_begin and log.power_end:
        return log.power_begin.timestamp(), log.power_end.timestamp()
    return fallback


def _scenario_figures(scenario: str, log: LoadGenLog, spq: int) -> dict[str, Any]:
    pct = log.percentiles_ns
    out: dict[str, Any] = {"latency_ns": {f"p{p:g}": v for p, v in sorted(pct.items())}
                           | {"mean": log.mean_ns, "min": log.min_ns, "max": log.max_ns},
                           "query_count": log.query_count}
    if scenario == "SingleStream" and pct.get(90.0):
        out |= {"metric": "p90_latency_ms", "value": pct[90.0] / 1e6, "samples_per_s": 1e9 / pct[90.0]}
    elif scenario == "MultiStream" and pct.get(99.0):
        out |= {"metric": "p99_latency_ms", "value": pct[99.0] / 1e6, "samples_per_s": spq * 1e9 / pct[99.0]}
    elif scenario == "Offline" and log.samples_per_s:
        out |= {"metric": "samples_per_s", "value": log.samples_per_s, "samples_per_s": log.samples_per_s}
    elif scenario == "Server":
        qps = log.scheduled_qps or log.target_qps or 0.0
        out |= {"metric": "server_qps", "value": qps, "samples_per_s": qps, "completed_per_s": log.completed_per_s}
    return out


def _energy_reader(flavor_vendor: str) -> tuple[Callable[[], Any] | None, str]:
    if flavor_vendor == "nvidia":
        visible = [x.strip() for x in os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",") if x.strip()]
        ids: list[int | str] = [int(x) if x.isdigit() else x for x in visible] or [0]
        return nvidia_reader(ids), BOARD_LABEL
    if flavor_vendor == "cpu":
        return rapl_reader(), RAPL_LABEL
    return None, BOARD_LABEL


def run_scenario(workload: Workload, scenario: str, p: Pilot, cfg: RunConfig, out: Path, bad: bool,
                 sampler: Sampler | None) -> dict[str, Any]:
    """One scenario → one result dict. Server tries rising target QPS and keeps the highest valid one."""
    spq = cfg.samples_per_query
    tries: list[dict[str, Any]] = []
    targets: list[float | None] = list(server_targets(p, cfg)) if scenario == "Server" else [None]
    best: tuple[LoadGenLog, dict[int, Any], list[str], tuple[float, float], Settings] | None = None
    last: tuple[LoadGenLog, dict[int, Any], list[str], tuple[float, float], Settings] | None = None
    recalibrated: dict[str, Any] | None = None
    for i, qps in enumerate(targets):
        settings = settings_for(scenario, p, cfg, qps)
        sub = out / "loadgen" / (scenario if qps is None else f"{scenario}-{i}")
        log, outputs, errors, span = _loadgen_run(workload, settings, sub, "PerformanceOnly", cfg, bad)
        for attempt in range(MAX_RECALIBRATIONS):
            retry = recalibrate(scenario, settings, log)
            if retry is None:
                break
            # The pilot was off (a busy machine): again, told what the last run measured.
            recalibrated = {"first_try": settings.values if recalibrated is None else recalibrated["first_try"],
                            "retries": attempt + 1}
            settings = retry
            log, outputs, errors, span = _loadgen_run(
                workload, settings, out / "loadgen" / f"{sub.name}-retry{attempt + 1}", "PerformanceOnly", cfg, bad)
        last = (log, outputs, errors, span, settings)
        tries.append({"target_qps": qps, "valid": log.valid, "p99_ns": log.percentiles_ns.get(99.0)})
        if log.valid and not errors:
            best = last
        elif best is not None:
            break  # past the knee: higher targets only get worse
    chosen = best or last
    assert chosen is not None
    log, outputs, errors, span, settings = chosen
    perf_accuracy = workload.check(outputs)
    result: dict[str, Any] = {
        "scenario": scenario, "loadgen_valid": log.valid, "settings": settings.values,
        "perf_accuracy": asdict(perf_accuracy) | {"passed": perf_accuracy.passed},
        "errors": errors + log.errors, "warnings": log.warnings[:20],
        "loadgen_version": log.loadgen_version, "loadgen_dir": str((out / "loadgen").relative_to(out)),
    }
    result |= _scenario_figures(scenario, log, spq)
    if recalibrated is not None:
        result["recalibrated"] = recalibrated
    if scenario == "Server":
        result["server_tries"] = tries
        result["latency_bound_ns"] = settings.values["server_target_latency_ns"]
    begin, end = _window(log, span)
    energy = sampler.energy(begin, end) if sampler else None
    if energy is not None:
        # Samples LoadGen actually issued in the window (an Offline query holds them all), not a rate × time.
        samples = (log.query_count or 0) * max(log.samples_per_query, 1)
        result["energy"] = {"joules": energy.joules, "window_s": energy.window_s, "source": energy.source,
                            "label": energy.label,
                            "j_per_sample": energy.joules / samples if samples else None,
                            "samples_per_s_per_w": samples / energy.joules if energy.joules else None}
    return result


def benchmark(workload_name: str, scenarios: Sequence[str], out: Path, cfg: RunConfig, *, flavor: str,
              bad: bool = False) -> dict[str, Any]:
    """The whole job; returns (and writes) the result document."""
    out.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC)
    workload = get_workload(workload_name)
    t0 = time.perf_counter()
    workload.load()
    load_s = time.perf_counter() - t0
    prov = provenance(workload, flavor)
    p = calibrate(workload, pilot(workload, cfg), cfg, out, bad)
    reader, label = _energy_reader(prov["vendor"])
    sampler = Sampler(reader, label) if reader else None
    results: list[dict[str, Any]] = []
    if sampler:
        sampler.__enter__()
    try:
        for scenario in scenarios:
            results.append(run_scenario(workload, scenario, p, cfg, out, bad, sampler))
    finally:
        if sampler:
            sampler.__exit__(None, None, None)
    _, acc_outputs, acc_errors, _ = _loadgen_run(
        workload, settings_for("Offline", p, cfg), out / "loadgen" / "accuracy", "AccuracyOnly", cfg, bad)
    accuracy: Accuracy = workload.check(acc_outputs)
    for r in results:
        perf_ok = bool(r["perf_accuracy"]["passed"])
        reasons = validity(r["loadgen_valid"], accuracy.passed and perf_ok, r["errors"] + acc_errors)
        if not perf_ok and accuracy.passed:
            reasons.append("outputs of the timed run disagree with the reference")
        r["valid"] = not reasons
        r["invalid_reasons"] = reasons
    doc = {
        "schema": SCHEMA, "note": NOTE, "workload": workload.name, "workload_class": workload.workload_class,
        "flavor": flavor, "units": units_used(flavor), "corrupted_on_purpose": bad,
        "started_at": started.isoformat(), "finished_at": dt.datetime.now(dt.UTC).isoformat(),
        "load_s": load_s, "pilot": asdict(p), "config": asdict(cfg),
        "accuracy": asdict(accuracy) | {"passed": accuracy.passed, "run_errors": acc_errors},
        "provenance": prov, "results": results, "runner": runner_identity(),
    }
    (out / RESULT_FILE).write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
    return doc


def train(workload_name: str, out: Path, budget_s: float, *, flavor: str, bad: bool = False) -> dict[str, Any]:
    """A training job: one run from a fixed seed to the target quality (or the budget); the result document."""
    from aicc.testbed.training import TRAINING_WORKLOADS, training_result

    out.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC)
    workload = TRAINING_WORKLOADS[workload_name]()
    outcome = workload.train(budget_s, corrupt=bad)
    result = training_result(outcome)
    prov = provenance(workload, flavor)
    doc = {
        "schema": SCHEMA, "note": "training throughput and time-to-quality on a small task; not MLPerf Training",
        "workload": workload.name, "workload_class": workload.workload_class, "flavor": flavor,
        "units": units_used(flavor), "corrupted_on_purpose": bad, "started_at": started.isoformat(),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(), "config": {"budget_s": budget_s},
        "accuracy": {"metric": "validation accuracy", "value": outcome.quality, "threshold": outcome.target,
                     "checked": 1, "passed": outcome.reached},
        "provenance": prov, "results": [result], "runner": runner_identity(),
    }
    (out / RESULT_FILE).write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
    return doc


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m aicc.testbed.run", description=__doc__.splitlines()[0])
    ap.add_argument("--workload", required=True)
    ap.add_argument("--scenario", default="Offline",
                    help=f"one of {', '.join(SCENARIOS)}, several separated by commas, or 'all'")
    ap.add_argument("--out", type=Path, default=Path.cwd())
    ap.add_argument("--flavor", default=os.environ.get("AICC_FLAVOR", "cpu"))
    ap.add_argument("--duration-ms", type=int, default=DEFAULTS.duration_ms,
                    help="LoadGen minimum duration per run; for a training workload, the time budget.")
    ap.add_argument("--min-queries", type=int, default=DEFAULTS.min_queries)
    ap.add_argument("--samples-per-query", type=int, default=DEFAULTS.samples_per_query)
    ap.add_argument("--max-batch", type=int, default=DEFAULTS.max_batch)
    ap.add_argument("--latency-bound-ms", type=float, default=None, help="Server p99 bound.")
    ap.add_argument("--corrupt", action="store_true",
                    help="Corrupt every output on purpose: the run must come out invalid (tests the check).")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    a = parse_args(argv)
    from aicc.testbed.training import TRAINING_WORKLOADS

    if a.workload in TRAINING_WORKLOADS:
        doc = train(a.workload, a.out, a.duration_ms / 1000.0, flavor=a.flavor, bad=a.corrupt)
        (r,) = doc["results"]
        verdict = "VALID" if r["valid"] else "INVALID (" + "; ".join(r["invalid_reasons"]) + ")"
        print(f"{doc['workload']} Training on {doc['flavor']}: {r['steps_per_s']:.1f} steps/s, "
              f"time to {r['target']} quality {r['value']} s {verdict}")
        return 0 if r["valid"] else 1
    scenarios = list(SCENARIOS) if a.scenario == "all" else [s.strip() for s in a.scenario.split(",") if s.strip()]
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)} (known: {', '.join(SCENARIOS)})", file=sys.stderr)
        return 2
    cfg = RunConfig(a.duration_ms, a.min_queries, a.samples_per_query, a.max_batch, a.latency_bound_ms)
    doc = benchmark(a.workload, scenarios, a.out, cfg, flavor=a.flavor, bad=a.corrupt)
    for r in doc["results"]:
        verdict = "VALID" if r["valid"] else "INVALID (" + "; ".join(r["invalid_reasons"]) + ")"
        print(f"{doc['workload']} {r['scenario']} on {doc['flavor']}: {r.get('metric')}={r.get('value')} {verdict}")
    print(f"accuracy: {doc['accuracy']['metric']} = {doc['accuracy']['value']:.3f} "
          f"(threshold {doc['accuracy']['threshold']}); result in {a.out / RESULT_FILE}")
    return 0 if all(r["valid"] for r in doc["results"]) else 1


if __name__ == "__main__":
    sys.exit(main())
