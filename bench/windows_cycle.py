"""Benchmark, CORE ONLY: what reserved windows (class hours) add to a scheduling cycle.

The same center as ``bench/scheduling_cycle.py`` (100,000 pending jobs from 1,000 projects on 2,000 nodes, in
memory). One full cycle on a fresh state is timed three ways, alternating, on identical states: no windows;
a window on every flavor starting in 30 minutes (every job that would outlast it asks the window check); a
window on every flavor in force now, with members waiting (the lend rule). Also the incremental cycle after
one submit, as in scheduling_cycle. Writes bench/results/windows_cycle.{json,md}.
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

from aicc.core.scheduling import PendingJob, Scheduler
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


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    kinds = ("none", "coming", "active")
    got: dict[str, list[tuple[float, float, int]]] = {k: [] for k in kinds}
    for i in range(rounds):
        for k in kinds:  # alternating: the machine's load falls on all three alike
            got[k].append(one(k, seed=i))
    report = {"machine": machine(), "rounds": rounds, "jobs": 100_000, "nodes": 2000, "results": {
        k: {"full_ms_median": round(statistics.median(x[0] for x in v) * 1000, 1),
            "incremental_ms_median": round(statistics.median(x[1] for x in v) * 1000, 2),
            "admitted_median": statistics.median(x[2] for x in v)} for k, v in got.items()}}
    out = Path(__file__).parent / "results"
    (out / "windows_cycle.json").write_text(json.dumps(report, indent=2) + "\n")
    rows = "\n".join(f"| {k} | {v['full_ms_median']} | {v['incremental_ms_median']} | {v['admitted_median']} |"
                     for k, v in report["results"].items())
    m = report["machine"]
    (out / "windows_cycle.md").write_text(f"""# What reserved windows add to a scheduling cycle (core only)

Machine: {m['cpus']} cores, {m['cpu_model']}, shared with other sessions; {rounds} rounds, alternating.
100,000 pending jobs, 1,000 projects, 2,000 nodes of 8 (bench/scheduling_cycle.py's center).

| windows | full cycle, ms (median) | incremental cycle, ms (median) | admitted (median) |
|---|---|---|---|
{rows}

"coming": a 64-accelerator window on every flavor from 30 minutes on (jobs that would outlast its start are
checked against it); "active": the same windows in force now, their members waiting.
""")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
