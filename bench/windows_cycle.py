"""Benchmark, CORE ONLY: what reserved windows (class hours) add to a scheduling cycle.

The same center as ``bench/scheduling_cycle.py`` (100,000 pending jobs from 1,000 projects on 2,000 nodes, in
memory). One full cycle on a fresh state is timed three ways, alternating, on identical states: no windows;
a window on every flavor starting in 30 minutes (every job that would outlast it asks the window check); a
window on every flavor in force now, with members waiting (the lend rule). Also the incremental cycle after
one submit, as in scheduling_cycle. And the blocked head a class keeps off (the window-aware EASY reservation):
a 100-gang of a non-member during a 64-unit class on a 4,000-accelerator flavor with 3,930 single runs ending
4 s apart, one cycle timed whole and, inside it, the reservation's window steps; beside the same state without
the window. Writes bench/results/windows_cycle.{json,md}.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine
from scheduling_cycle import FLAVORS, build

from aicc.core.scheduling import POLICIES, FlavorInfo, NodeInfo, PendingJob, ProjectState, Scheduler
from aicc.core.scheduling.reservation import Backfill
from aicc.core.scheduling.windows import Window, Windows

NOW = 1_000_000.0


def windows(kind: str) -> Windows:
    if kind == "none":
        return Windows()
    start = NOW + 1800 if kind == "coming" else NOW - 600
    # 64 of each flavor's 4,000 accelerators for projects 0-9, three hours
    return Windows([Window(k, f.name, 64, start, start + 3 * 3600, frozenset(range(10)), f"class-{f.name}")
                    for k, f in enumerate(FLAVORS)])


def one(kind: str, seed: int) -> tuple[float, float, int]:
    s: Scheduler
    s, _ = build(2000, 1000, 100_000, seed)
    s.set_windows(windows(kind))
    t0 = time.perf_counter()
    r = s.cycle(NOW)
    full = time.perf_counter() - t0
    s.submit(PendingJob(10**7, 5, ("h100",), 1, 4, 16_000, 3600, 0, NOW))
    t0 = time.perf_counter()
    s.cycle(NOW + 1)
    inc = time.perf_counter() - t0
    return full, inc, len(r.admissions)


def blocked_head(windowed: bool) -> tuple[float, float, float]:
    """(cycle s, of which the reservation's window steps s, the head's reserved start after the class's start s)."""
    at = NOW + 1800
    s = Scheduler([FlavorInfo("h100", 2.0)], [NodeInfo(f"h{i}", "h100", 8, 64, 512_000) for i in range(500)],
                  POLICIES["aicc"])
    for pid, quota in ((1, 0), (2, 4000), (3, 4000)):
        s.set_project(ProjectState(pid, weight=1.0, nominal={"h100": quota}, borrowing_limit={"h100": 0},
                                   budget_left=1e12, allocation_id=pid))
    if windowed:
        s.set_windows(Windows([Window(7, "h100", 64, at, at + 3 * 3600, frozenset({1}), "ai-101")]))
    for i in range(3930):  # from two hours before the class, each still running at its start
        s.submit(PendingJob(1000 + i, 3, ("h100",), 1, 1, 1000, 7200 + 60 + i * 4, 0, at - 7200))
    assert len(s.cycle(at - 7200).admissions) == 3930
    s.submit(PendingJob(10, 2, ("h100",), 100, 1, 1000, 3600, 0, at + 300))
    s.submit(PendingJob(11, 2, ("h100",), 1, 1, 1000, 3600, 0, at + 301))
    inner = [0.0]
    steps = Backfill._clear_of_windows

    def timed(self: Backfill, *a: object) -> object:
        t = time.perf_counter()
        try:
            return steps(self, *a)  # type: ignore[arg-type]
        finally:
            inner[0] += time.perf_counter() - t

    Backfill._clear_of_windows = timed  # type: ignore[method-assign,assignment]
    try:
        t0 = time.perf_counter()
        r = s.cycle(at + 300)
        whole = time.perf_counter() - t0
    finally:
        Backfill._clear_of_windows = steps  # type: ignore[method-assign]
    assert r.reservation is not None and r.reservation.job_id == 10
    return whole, inner[0], r.reservation.start - at


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    kinds = ("none", "coming", "active")
    got: dict[str, list[tuple[float, float, int]]] = {k: [] for k in kinds}
    for i in range(rounds):
        for k in kinds:  # alternating: the machine's load falls on all three alike
            got[k].append(one(k, seed=i))
    heads = {w: [blocked_head(w) for _ in range(5)] for w in (False, True)}
    report = {"machine": machine(), "rounds": rounds, "jobs": 100_000, "nodes": 2000, "results": {
        k: {"full_ms_median": round(statistics.median(x[0] for x in v) * 1000, 1),
            "incremental_ms_median": round(statistics.median(x[1] for x in v) * 1000, 2),
            "admitted_median": statistics.median(x[2] for x in v)} for k, v in got.items()},
        "blocked_head": {("class" if w else "no_window"): {
            "cycle_ms_median": round(statistics.median(x[0] for x in v) * 1000, 2),
            "window_steps_ms_median": round(statistics.median(x[1] for x in v) * 1000, 2),
            "reserved_after_class_start_s": v[0][2]} for w, v in heads.items()}}
    out = Path(__file__).parent / "results"
    (out / "windows_cycle.json").write_text(json.dumps(report, indent=2) + "\n")
    rows = "\n".join(f"| {k} | {v['full_ms_median']} | {v['incremental_ms_median']} | {v['admitted_median']} |"
                     for k, v in report["results"].items())
    heads = "\n".join(f"| {k} | {v['cycle_ms_median']} | {v['window_steps_ms_median']} | "
                      f"{v['reserved_after_class_start_s']} |" for k, v in report["blocked_head"].items())
    m = report["machine"]
    (out / "windows_cycle.md").write_text(f"""# What reserved windows add to a scheduling cycle (core only)

Machine: {m['cpus']} cores, {m['cpu_model']}, shared with other sessions; {rounds} rounds, alternating.
100,000 pending jobs, 1,000 projects, 2,000 nodes of 8 (bench/scheduling_cycle.py's center).

| windows | full cycle, ms (median) | incremental cycle, ms (median) | admitted (median) |
|---|---|---|---|
{rows}

"coming": a 64-accelerator window on every flavor from 30 minutes on (jobs that would outlast its start are
checked against it); "active": the same windows in force now, their members waiting.

A blocked head the class keeps off (5 fresh states each; 3,930 single runs on 4,000 accelerators, a non-member
100-gang 5 minutes into a 64-unit class), one cycle:

| | cycle, ms (median) | of which the reservation's window steps, ms | reserved start after the class's start, s |
|---|---|---|---|
{heads}
""")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
