"""1,000,000 synthetic jobs from 1,000 projects on a 10,000-accelerator, 4-flavor center.

Arrivals are Poisson at a rate that loads the center to about 80 %; durations log-normal (median 30 min,
sigma 1.5), gangs drawn with the Philly frequencies. Records wall time, simulated seconds per wall
second and peak RSS. Usage: python bench/sim_synthetic.py [--jobs N] [--policy P] [--interval S]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sim_common import RESULTS, machine, peak_rss_mib

from aicc.core.scheduling import FlavorInfo, NodeInfo
from aicc.sim.center import SimCenter
from aicc.sim.engine import simulate
from aicc.sim.metrics import summarize
from aicc.sim.trace import GANG_SIZES, GANG_WEIGHTS, synthetic

SPEEDS = {"h100": 2.0, "a100": 1.5, "l40s": 1.0, "v100": 0.8}
RATES = {"h100": 2.0, "a100": 1.2, "l40s": 0.8, "v100": 0.5}


def center(total: int = 10_000) -> SimCenter:
    per = total // len(SPEEDS) // 8  # 8-GPU nodes, a quarter of the accelerators per flavor
    nodes = tuple(NodeInfo(f"{f}-{k:05d}", f, 8, 64, 1024 * 1024) for f in SPEEDS for k in range(per))
    return SimCenter("synthetic-4-flavor", tuple(FlavorInfo(f, RATES[f]) for f in SPEEDS), nodes)


def _progress(policy: str, began: float) -> Callable[[float, object], None]:
    seen = [0]

    def report(now: float, res: object) -> None:
        seen[0] += 1
        if seen[0] % 5000 == 0:
            print(f"  {policy}: cycle {seen[0]}, simulated day {now / 86400:.2f}, "
                  f"wall {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)

    return report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=1_000_000)
    ap.add_argument("--projects", type=int, default=1000)
    ap.add_argument("--policy", nargs="*", default=["aicc"])
    ap.add_argument("--interval", type=float, default=30.0)
    ap.add_argument("--load", type=float, default=0.8)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    c = center()
    gang = sum(g * w for g, w in zip(GANG_SIZES, GANG_WEIGHTS, strict=True)) / sum(GANG_WEIGHTS)
    median, sigma = 1800.0, 1.5
    mean_work = gang * median * 2.718281828 ** (sigma**2 / 2) / (sum(SPEEDS.values()) / len(SPEEDS))
    interarrival = mean_work / (args.load * sum(c.capacity().values()))
    t0 = time.perf_counter()
    trace = synthetic(args.jobs, projects=args.projects, flavors=SPEEDS, mean_interarrival=interarrival,
                      median_duration=median, sigma=sigma, seed=args.seed)
    gen_s = time.perf_counter() - t0
    rows = []
    for policy in args.policy:
        t0 = time.perf_counter()
        r = simulate(trace, c, policy, cycle_interval=args.interval, on_cycle=_progress(policy, t0))
        wall = time.perf_counter() - t0
        s = summarize(r)
        row = {"policy": policy, "cycle_interval_s": args.interval, "wall_s": round(wall, 1),
               "policy_s": round(r.policy_s, 1), "cycles": r.cycles, "events": r.events,
               "finished": s["finished"], "simulated_s": s["makespan_s"],
               "sim_s_per_wall_s": s["makespan_s"] / wall, "peak_rss_mib": round(peak_rss_mib()),
               "mean_jct_h": s["jct_s"]["mean"] / 3600, "p95_wait_h": s["wait_s"]["p95"] / 3600,
               "utilization": {f: round(u["mean"], 3) for f, u in s["utilization"].items()},
               "preemptions": s["preemptions"], "jain": s["fairness"]["jain_share_over_entitlement"]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    doc = {"benchmark": "sim_synthetic", "jobs": args.jobs, "projects": args.projects,
           "accelerators": c.capacity(), "target_load": args.load, "mean_interarrival_s": interarrival,
           "generate_s": round(gen_s, 1), "machine": machine(), "runs": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "sim_synthetic" if args.jobs == 1_000_000 else f"sim_synthetic_{args.jobs}"
    (RESULTS / f"{name}.json").write_text(json.dumps(doc, indent=1))
    lines = [f"# sim_synthetic: {args.jobs:,} jobs, {args.projects} projects, {c.capacity()}", "",
             f"Machine: {doc['machine']['cpu']} ({doc['machine']['cores']} cores shared), Python "
             f"{doc['machine']['python']}. Generation {gen_s:.1f} s; load {args.load:.0%}; "
             f"cycle every {args.interval:g} s.", "",
             "| policy | wall s | in policy s | simulated d | sim s / wall s | peak RSS MiB | cycles | "
             "mean JCT h | p95 wait h | preempt | Jain |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['policy']} | {r['wall_s']} | {r['policy_s']} | {r['simulated_s'] / 86400:.1f} | "
                     f"{r['sim_s_per_wall_s']:.0f} | {r['peak_rss_mib']} | {r['cycles']} | "
                     f"{r['mean_jct_h']:.2f} | {r['p95_wait_h']:.2f} | {r['preemptions']} | {r['jain']:.3f} |")
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
