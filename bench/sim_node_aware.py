"""Issue 24's benchmark: AICC's policy against FIFO and EASY on node-aware centers, side by side in one run.

Part 1 replays the Philly/Gavel trace (the whole trace under ``/work/shared/data/philly-gavel`` when it is
here, else the sample in ``tests/data/philly-gavel``) on centers built from Gavel's cluster (300 k80, 300 p100,
300 v100) with 8-GPU nodes, at full capacity and at 0.75x, under each policy with the simulator's default
cost of preemption (a 10 s grace period, no checkpoints: a victim starts again); AICC's policy is also run
with free preemption, without aging or with 24 h, and with other preempt_worth settings (0: the policy that
preempts whenever that helps, as before preemption weighed its cost), for comparison. It records mean JCT,
max wait, waits by job width, lost accelerator-hours, and the verdict of issue 24: AICC's mean JCT beats
FIFO's and EASY's, and its max wait is no worse than EASY's.

Part 2 times every policy replaying an 80,000-job synthetic trace (Philly gang sizes, log-normal durations)
on a 640-accelerator center of 8-GPU nodes, a cycle after every event; the issue's target is 15 s each on
this machine. A run still going after ``--budget-s`` (``--philly-budget-s`` for part 1) is stopped and
reported as such.

Usage: python bench/sim_node_aware.py [--policy P ...] [--speed-jobs N] [--budget-s S] [--skip-speed]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sim_common import RESULTS, ROOT, machine, peak_rss_mib

from aicc.core.scheduling import POLICIES as CONFIGS
from aicc.core.scheduling import FlavorInfo, NodeInfo
from aicc.sim.center import LOSSLESS, PreemptionCost, SimCenter
from aicc.sim.engine import simulate
from aicc.sim.metrics import WIDTHS, summarize
from aicc.sim.trace import GANG_SIZES, GANG_WEIGHTS, Trace, load_philly, synthetic

POLICIES = ("fifo", "easy", "aicc")
H = 3600.0


class OverBudget(Exception):
    pass


def philly() -> tuple[Trace, str]:
    for base in (Path(os.environ.get("AICC_SHARED", "/nonexistent")) / "data", Path("/work/shared/data"),
                 ROOT.parent / "shared" / "data"):
        if (base / "philly-gavel" / "seed0").is_dir():
            d = base / "philly-gavel"
            return load_philly(d / "seed0", d / "simulation_throughputs.json"), str(d)
    d = ROOT / "tests" / "data" / "philly-gavel"
    return load_philly(d), str(d.relative_to(ROOT)) + " (the 189-job sample: the whole trace is not here)"


def node_center(per_flavor: int, name: str, flavors: tuple[str, ...] = ("k80", "p100", "v100")) -> SimCenter:
    """``per_flavor`` GPUs of each flavor in whole 8-GPU nodes (rounded up), 1 SU per GPU-hour."""
    nodes = tuple(NodeInfo(f"{f}-{k:04d}", f, 8, 64, 1024 * 1024) for f in flavors
                  for k in range(math.ceil(per_flavor / 8)))
    return SimCenter(name, tuple(FlavorInfo(f, 1.0) for f in flavors), nodes)


def _budget(began: float, budget_s: float) -> Any:
    def check(now: float, res: object) -> None:
        if time.perf_counter() - began > budget_s:
            raise OverBudget
    return check


def replay(trace: Trace, center: SimCenter, policy: str, budget_s: float,
           preemption: PreemptionCost | None = None, age_after_s: float | None = None,
           worth: float | None = None) -> dict[str, Any]:
    began = time.perf_counter()
    config = CONFIGS[policy] if age_after_s is None else replace(CONFIGS[policy], age_after_s=age_after_s)
    if worth is not None:
        config = replace(config, preempt_worth=worth)
    label = policy + (" (free preemption)" if preemption is LOSSLESS else "") + \
        ("" if age_after_s is None else (" (no aging)" if not age_after_s else f" (aging {age_after_s / H:g} h)")) + \
        ("" if worth is None else (" (preempts whenever it helps)" if not worth else f" (preempt_worth {worth:g})"))
    try:
        r = simulate(trace, center, config, on_cycle=_budget(began, budget_s), preemption=preemption)
    except OverBudget:
        return {"policy": label, "stopped_after_s": round(time.perf_counter() - began, 1)}
    wall = time.perf_counter() - began
    s = summarize(r)
    return {"policy": label,
            "wall_s": round(wall, 2), "policy_s": round(r.policy_s, 2), "cycles": r.cycles,
            "finished": s["finished"], "jobs": s["jobs"], "unschedulable": s["unschedulable"],
            "mean_jct_h": s["jct_s"]["mean"] / H, "p95_jct_h": s["jct_s"]["p95"] / H,
            "mean_wait_h": s["wait_s"]["mean"] / H, "p95_wait_h": s["wait_s"]["p95"] / H,
            "max_wait_h": s["wait_s"]["max"] / H, "preemptions": s["preemptions"],
            "lost_accel_h": s["preemption"]["lost_unit_h"],
            "lost_fraction": s["preemption"]["lost_fraction_of_use"],
            "by_width": {k: {"jobs": v["jobs"], "mean_wait_h": v["wait_s"]["mean"] / H,
                             "max_wait_h": v["wait_s"]["max"] / H, "mean_jct_h": v["jct_s"]["mean"] / H}
                         for k, v in s["by_width"].items()},
            "worst_project_mean_wait_h": s["fairness"]["worst_project_mean_wait_s"] / H,
            "window_fairness": s["fairness"]["windows"]["mean_jain"],
            "worst_window": s["fairness"]["windows"]["worst_jain"]}


def verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by = {r["policy"]: r for r in rows if "mean_jct_h" in r}
    if not {"aicc", "easy"} <= set(by):
        return {"met": None, "why": "aicc or easy did not finish within the budget"}
    aicc, easy = by["aicc"], by["easy"]
    best_other = min(r["mean_jct_h"] for p, r in by.items() if p in ("fifo", "easy"))
    jct_ok, wait_ok = aicc["mean_jct_h"] < best_other, aicc["max_wait_h"] <= easy["max_wait_h"]
    return {"met": jct_ok and wait_ok, "aicc_beats_fifo_and_easy_on_mean_jct": jct_ok,
            "aicc_max_wait_no_worse_than_easy": wait_ok}


def speed_trace(jobs: int, accelerators: int, load: float, seed: int) -> Trace:
    gang = sum(g * w for g, w in zip(GANG_SIZES, GANG_WEIGHTS, strict=True)) / sum(GANG_WEIGHTS)
    median, sigma = 1800.0, 1.5
    interarrival = gang * median * math.exp(sigma**2 / 2) / (load * accelerators)
    return synthetic(jobs, projects=20, flavors={"gpu": 1.0}, mean_interarrival=interarrival,
                     median_duration=median, sigma=sigma, max_duration=7 * 86400.0, seed=seed)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--policy", nargs="*", default=list(POLICIES))
    ap.add_argument("--budget-s", type=float, default=120.0, help="stop a speed replay that runs longer than this")
    ap.add_argument("--philly-budget-s", type=float, default=1200.0, help="the same for the Philly replays")
    ap.add_argument("--speed-jobs", type=int, default=80_000)
    ap.add_argument("--speed-accelerators", type=int, default=640)
    ap.add_argument("--speed-load", type=float, default=0.85)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--aicc-ages", type=float, nargs="*", default=[0.0, 24.0],
                    help="also run AICC with these aging settings (hours; 0: no aging), beside its default")
    ap.add_argument("--aicc-worths", type=float, nargs="*", default=[0.0, 1.0],
                    help="also run AICC with these preempt_worth settings (0: preempt whenever it helps)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    trace, source = philly()
    load_s = time.perf_counter() - t0
    centers = [node_center(300, "8-GPU nodes, full (300 per flavor)"),
               node_center(225, "8-GPU nodes, 0.75x (225 per flavor)")]
    parts: list[dict[str, Any]] = []
    for c in centers:
        rows = []
        for policy in args.policy:
            rows.append(replay(trace, c, policy, args.philly_budget_s))
            print(json.dumps({"center": c.name} | rows[-1]), flush=True)
        if "aicc" in args.policy:
            rows.append(replay(trace, c, "aicc", args.philly_budget_s, LOSSLESS))
            print(json.dumps({"center": c.name} | rows[-1]), flush=True)
            for age in args.aicc_ages:  # the aging setting's trade-off, side by side
                rows.append(replay(trace, c, "aicc", args.philly_budget_s, age_after_s=age * H))
                print(json.dumps({"center": c.name} | rows[-1]), flush=True)
            for worth in args.aicc_worths:  # and cost-aware preemption's
                rows.append(replay(trace, c, "aicc", args.philly_budget_s, worth=worth))
                print(json.dumps({"center": c.name} | rows[-1]), flush=True)
        parts.append({"center": c.name, "capacity": c.capacity(), "runs": rows, "verdict": verdict(rows)})
    speed: dict[str, Any] = {}
    if not args.skip_speed:
        st = speed_trace(args.speed_jobs, args.speed_accelerators, args.speed_load, 1)
        sc = SimCenter("speed", (FlavorInfo("gpu", 1.0),),
                       tuple(NodeInfo(f"gpu-{k:04d}", "gpu", 8, 64, 1024 * 1024)
                             for k in range(args.speed_accelerators // 8)))
        runs = []
        for policy in args.policy:
            row = replay(st, sc, policy, args.budget_s)
            row["target_met"] = row.get("wall_s", math.inf) <= 15.0
            runs.append({k: row[k] for k in ("policy", "wall_s", "policy_s", "cycles", "stopped_after_s",
                                              "mean_jct_h", "max_wait_h", "preemptions", "target_met") if k in row})
            print(json.dumps({"speed": runs[-1]}), flush=True)
        speed = {"jobs": args.speed_jobs, "accelerators": args.speed_accelerators, "load": args.speed_load,
                 "target_s": 15.0, "runs": runs}
    with open("/proc/loadavg") as f:
        loadavg = f.read().split()[:3]
    doc = {"benchmark": "sim_node_aware", "trace": source, "jobs": len(trace.jobs), "load_s": round(load_s, 2),
           "aicc_age_after_h": CONFIGS["aicc"].age_after_s / H, "aicc_preempt_worth": CONFIGS["aicc"].preempt_worth,
           "preemption": "10 s grace, no checkpoints (the simulator's default)", "budget_s": args.budget_s,
           "philly_budget_s": args.philly_budget_s,
           "machine": machine() | {"load_average_at_end": loadavg, "peak_rss_mib": round(peak_rss_mib())},
           "centers": parts, "speed": speed}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sim_node_aware.json").write_text(json.dumps(doc, indent=1))
    (RESULTS / "sim_node_aware.md").write_text(markdown(doc))


def _h(v: float | None, digits: int = 1) -> str:
    return "–" if v is None or not math.isfinite(v) else f"{v:,.{digits}f}"


def markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    lines = [f"# sim_node_aware: {doc['jobs']:,} Philly/Gavel jobs on node-aware centers", "",
             f"Trace: `{doc['trace']}`. Preemption: {doc['preemption']}. Machine: {m['cpu']} "
             f"({m['cores']} cores shared; load average at the end {' '.join(m['load_average_at_end'])}), "
             f"Python {m['python']}. Replays stopped after {doc['philly_budget_s']:g} s (Philly) and "
             f"{doc['budget_s']:g} s (speed). AICC's aging (every job waiting this long goes before "
             f"fair share and holds the reservation): {doc['aicc_age_after_h']:g} h by default. Its cost-aware "
             f"preemption: victims lose at most preempt_worth = {doc['aicc_preempt_worth']:g} x (1 + wait / aging) "
             "times the waiting job's units x the time its shape would otherwise take to free. Rows marked "
             "otherwise set these differently.", ""]
    widths = [label for _, _, label in WIDTHS]
    for part in doc["centers"]:
        v = part["verdict"]
        met = "not measured" if v["met"] is None else ("met" if v["met"] else "**not met**")
        lines += [f"## {part['center']}: {part['capacity']}", "",
                  f"Issue 24's target (AICC beats FIFO and EASY on mean JCT, max wait no worse than EASY's): {met}"
                  + ("" if v["met"] is None else f" (JCT: {v['aicc_beats_fifo_and_easy_on_mean_jct']}, "
                                                  f"max wait: {v['aicc_max_wait_no_worse_than_easy']})."), "",
                  "| policy | finished | mean JCT h | p95 JCT h | mean wait h | max wait h | "
                  + " | ".join(f"wait h, {w} (mean / max)" for w in widths)
                  + " | preemptions | lost accel-h | wall s | in policy s |",
                  "|---" * (10 + len(widths)) + "|"]
        for r in part["runs"]:
            if "mean_jct_h" not in r:
                lines.append(f"| {r['policy']} | stopped after {r['stopped_after_s']} s |" + " |" * (8 + len(widths)))
                continue
            bw = " | ".join(f"{_h(r['by_width'][w]['mean_wait_h'])} / {_h(r['by_width'][w]['max_wait_h'])}"
                            for w in widths)
            lines.append(f"| {r['policy']} | {r['finished']:,} of {r['jobs']:,} | {_h(r['mean_jct_h'])} | "
                         f"{_h(r['p95_jct_h'])} | {_h(r['mean_wait_h'], 2)} | {_h(r['max_wait_h'])} | {bw} | "
                         f"{r['preemptions']:,} | {_h(r['lost_accel_h'], 0)} | {r['wall_s']} | {r['policy_s']} |")
        lines.append("")
    if doc["speed"]:
        sp = doc["speed"]
        lines += [f"## Replay speed: {sp['jobs']:,} synthetic jobs, {sp['accelerators']} accelerators "
                  f"(8-GPU nodes), load {sp['load']:.0%}, a cycle per event; target ≤ {sp['target_s']:g} s", "",
                  "| policy | wall s | in policy s | cycles | mean JCT h | max wait h | preemptions | target |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in sp["runs"]:
            if "wall_s" not in r:
                lines.append(f"| {r['policy']} | stopped after {r['stopped_after_s']} s | | | | | | **not met** |")
                continue
            lines.append(f"| {r['policy']} | {r['wall_s']} | {r['policy_s']} | {r['cycles']:,} | "
                         f"{_h(r['mean_jct_h'], 2)} | {_h(r['max_wait_h'])} | {r['preemptions']:,} | "
                         f"{'met' if r['target_met'] else '**not met**'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
