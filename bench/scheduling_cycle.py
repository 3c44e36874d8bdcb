"""Benchmark, CORE ONLY: one cycle of the policy (``core.scheduling.Scheduler``) over 100,000 pending jobs from
1,000 projects on 2,000 nodes, in memory: no database, no controller. The live controller's figures (reading
the database, writing decisions) are ``bench/controller_cycle.py``'s; quote those for what a center sees.

Targets (issue "Jobs end to end"): full cycle <= 200 ms; an incremental cycle after
one submit or one finish <= 5 ms median. Writes bench/results/scheduling_cycle.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine

from aicc.config import Settings
from aicc.core.scheduling import POLICIES, FlavorInfo, NodeInfo, PendingJob, ProjectState, Scheduler

FLAVORS = [FlavorInfo("h100", 2.0), FlavorInfo("a100", 1.0), FlavorInfo("l40s", 0.6), FlavorInfo("rbln-atom", 0.4)]
GANGS = [1, 1, 1, 1, 2, 2, 4, 8, 8, 16]


def build(nodes: int, projects: int, jobs: int, seed: int, max_starts: int = 0) -> tuple[Scheduler, random.Random]:
    rnd = random.Random(seed)
    per_flavor = nodes // len(FLAVORS)
    infos = [NodeInfo(f"{f.name}-{i:04d}", f.name, 8, 128, 1_024_000) for f in FLAVORS for i in range(per_flavor)]
    s = Scheduler(FLAVORS, infos, replace(POLICIES["aicc"], max_starts=max_starts))
    per_project = per_flavor * 8 // projects * 2
    for pid in range(projects):
        s.set_project(ProjectState(pid, weight=rnd.choice([0.5, 1, 1, 2]),
                                   nominal={f.name: per_project // 2 for f in FLAVORS},
                                   borrowing_limit={f.name: per_project for f in FLAVORS},
                                   budget_left=1e9, allocation_id=pid))
    for jid in range(jobs):
        flavors = tuple(rnd.sample([f.name for f in FLAVORS], rnd.choice([1, 1, 2])))
        s.submit(PendingJob(jid, rnd.randrange(projects), flavors, rnd.choice(GANGS), 4, 16_000,
                            rnd.choice([600, 3600, 4 * 3600, 24 * 3600]), rnd.choice([0, 0, 0, 10]), float(jid)))
    return s, rnd


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="10x smaller, for a smoke run")
    ap.add_argument("--reps", type=int, default=50)
    args = ap.parse_args()
    scale = 10 if args.quick else 1
    nodes, projects, jobs = 2000 // scale, 1000 // scale, 100_000 // scale

    cap = Settings(home=Path("."), database_url="").max_starts_per_cycle  # the controller's default
    capped, _ = build(nodes, projects, jobs, seed=1, max_starts=cap)
    capped_ms = []
    while True:
        t0 = time.perf_counter()
        r = capped.cycle(0.0)
        capped_ms.append((time.perf_counter() - t0) * 1000)
        if not r.capped:
            break
    capped_admitted = len(capped.running)
    del capped

    s, rnd = build(nodes, projects, jobs, seed=1)
    t_build_cycle = timed(lambda: s.cycle(0.0))  # empty center: admits until full
    first = s.cycle  # noqa: F841
    admitted_first = len(s.running)
    full_busy = [timed(lambda: s.cycle(1.0)) for _ in range(5)]  # center full, queue long

    submit_ms, finish_ms = [], []
    next_id = jobs
    for i in range(args.reps):
        s.submit(PendingJob(next_id, rnd.randrange(projects), ("h100",), 1, 4, 16_000, 3600, 0, 10.0 + i))
        next_id += 1
        submit_ms.append(timed(lambda t=2.0 + i: s.cycle(t)))
        victim = rnd.choice(list(s.running))
        s.finish(victim)
        finish_ms.append(timed(lambda t=3.0 + i: s.cycle(t)))

    result = {
        "benchmark": "scheduling_cycle",
        "scale": {"nodes": nodes, "accelerators": nodes * 8, "flavors": len(FLAVORS), "projects": projects,
                  "pending_jobs": jobs},
        "full_cycle_empty_center_ms": round(t_build_cycle, 1),
        "jobs_admitted_by_it": admitted_first,
        "cold_start_capped": {"max_starts": cap, "cycles": len(capped_ms), "admitted": capped_admitted,
                              "max_cycle_ms": round(max(capped_ms), 1), "total_ms": round(sum(capped_ms), 1)},
        "full_cycle_full_center_ms_median": round(statistics.median(full_busy), 2),
        "incremental_after_submit_ms_median": round(statistics.median(submit_ms), 3),
        "incremental_after_submit_ms_p95": round(sorted(submit_ms)[int(len(submit_ms) * 0.95) - 1], 3),
        "incremental_after_finish_ms_median": round(statistics.median(finish_ms), 3),
        "incremental_after_finish_ms_p95": round(sorted(finish_ms)[int(len(finish_ms) * 0.95) - 1], 3),
        "targets": {"full_cycle_ms": 200, "incremental_median_ms": 5},
        "machine": machine(),
        "quick": args.quick,
    }
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    name = "scheduling_cycle_quick" if args.quick else "scheduling_cycle"
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    r = result
    c = result["cold_start_capped"]
    rows = [
        (f"cold start as the controller runs it (at most {cap:,} admissions per cycle, the next at once)",
         f"longest cycle {c['max_cycle_ms']} ms; {c['cycles']} cycles admit {c['admitted']:,} jobs in "
         f"{c['total_ms']} ms", "≤ 200 ms"),
        (f"one uncapped cycle, empty center (admits {admitted_first:,} jobs at once)",
         f"{r['full_cycle_empty_center_ms']} ms", "(≤ 200 ms)"),
        (f"full cycle, center full, queue of {jobs:,}", f"{r['full_cycle_full_center_ms_median']} ms (median)",
         "≤ 200 ms"),
        ("incremental cycle after one submit",
         f"{r['incremental_after_submit_ms_median']} ms median, {r['incremental_after_submit_ms_p95']} ms p95",
         "≤ 5 ms median"),
        ("incremental cycle after one finish",
         f"{r['incremental_after_finish_ms_median']} ms median, {r['incremental_after_finish_ms_p95']} ms p95",
         "≤ 5 ms median"),
    ]
    m = r["machine"]
    md = (f"# Scheduling cycle — core policy only (in memory: no database, no controller)\n\n"
          "What the live controller takes per cycle, through the database, is in `controller_cycle_*.md`.\n\n"
          f"{nodes} nodes ({nodes * 8} accelerators, {len(FLAVORS)} flavors), {projects} "
          f"projects, {jobs:,} pending jobs, policy `aicc` (quota + fair share + EASY backfill + preemption).\n"
          f"Machine: {m['cpus']} cores, {m['cpu_model']}, Python {m['python']}.\n\n"
          "| measure | result | target |\n|---|---|---|\n" + "".join(f"| {a} | {b} | {c} |\n" for a, b, c in rows))
    (out / f"{name}.md").write_text(md)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
