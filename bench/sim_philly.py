"""The whole Philly/Gavel trace (15,264 jobs, ~125 days) on the 300 k80 + 300 p100 + 300 v100 cluster.

Each policy replays the same trace; we record average JCT and friends, the longest wait, the
accelerator-hours preemption threw away (the simulator's default cost: 10 s grace, no checkpoints), the wall
time, and how much of it the shared policy code (Scheduler.cycle) took.
Usage: python bench/sim_philly.py [--interval S ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sim_common import RESULTS, machine, shared_data

from aicc.sim.center import gavel_center_from_json
from aicc.sim.engine import simulate
from aicc.sim.metrics import summarize
from aicc.sim.trace import load_philly

POLICIES = ("fifo", "easy", "aicc", "hetero")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--interval", type=float, nargs="*", default=[0.0, 60.0],
                    help="cycle intervals to run (0: a cycle after every event)")
    ap.add_argument("--policy", nargs="*", default=list(POLICIES))
    args = ap.parse_args()
    data = shared_data()
    t0 = time.perf_counter()
    trace = load_philly(data / "seed0", data / "simulation_throughputs.json")
    load_s = time.perf_counter() - t0
    center = gavel_center_from_json((data / "cluster_specs_heterogeneous.json").read_text())
    rows = []
    for interval in args.interval:
        for policy in args.policy:
            t0 = time.perf_counter()
            r = simulate(trace, center, policy, cycle_interval=interval)
            wall = time.perf_counter() - t0
            s = summarize(r)
            row = {"policy": policy, "cycle_interval_s": interval, "wall_s": round(wall, 2),
                   "policy_s": round(r.policy_s, 2), "cycles": r.cycles, "finished": s["finished"],
                   "mean_jct_h": s["jct_s"]["mean"] / 3600, "median_jct_h": s["jct_s"]["median"] / 3600,
                   "p95_jct_h": s["jct_s"]["p95"] / 3600, "p99_jct_h": s["jct_s"]["p99"] / 3600,
                   "mean_wait_h": s["wait_s"]["mean"] / 3600, "max_wait_h": s["wait_s"]["max"] / 3600,
                   "lost_accel_h": s["preemption"]["lost_unit_h"], "mean_slowdown": s["slowdown"]["mean"],
                   "makespan_d": s["makespan_s"] / 86400, "preemptions": s["preemptions"],
                   "jain": s["fairness"]["jain_share_over_entitlement"],
                   "sim_s_per_wall_s": s["makespan_s"] / wall}
            rows.append(row)
            print(json.dumps(row), flush=True)
    for interval in args.interval:
        base = next((r for r in rows if r["policy"] == "easy" and r["cycle_interval_s"] == interval), None)
        for r in rows:
            if base and r["cycle_interval_s"] == interval:
                r["jct_vs_easy"] = base["mean_jct_h"] / r["mean_jct_h"]
    doc = {"benchmark": "sim_philly", "jobs": len(trace.jobs), "load_s": round(load_s, 2),
           "cluster": center.capacity(), "machine": machine(), "runs": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sim_philly.json").write_text(json.dumps(doc, indent=1))
    lines = [f"# sim_philly: {len(trace.jobs)} Philly jobs on {center.capacity()}", "",
             f"Machine: {doc['machine']['cpu']} ({doc['machine']['cores']} cores shared), "
             f"Python {doc['machine']['python']}. Trace load {load_s:.2f} s.", "",
             "| policy | cycle every | mean JCT h | median h | p95 h | p99 h | mean wait h | max wait h | slowdown | "
             "makespan d | preempt | lost accel-h | Jain | easy JCT / JCT | wall s | in policy s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        every = "event" if r["cycle_interval_s"] == 0 else f"{r['cycle_interval_s']:g} s"
        lines.append(f"| {r['policy']} | {every} | {r['mean_jct_h']:.1f} | {r['median_jct_h']:.2f} | "
                     f"{r['p95_jct_h']:.0f} | {r['p99_jct_h']:.0f} | {r['mean_wait_h']:.1f} | {r['max_wait_h']:,.1f} | "
                     f"{r['mean_slowdown']:.1f} | {r['makespan_d']:.1f} | {r['preemptions']:,} | "
                     f"{r['lost_accel_h']:,.0f} | {r['jain']:.3f} | "
                     f"{r.get('jct_vs_easy', 0):.2f}x | {r['wall_s']:.1f} | {r['policy_s']:.1f} |")
    (RESULTS / "sim_philly.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
