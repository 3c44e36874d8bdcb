"""`aicc sim`: replay a trace through the admission policy, compare policies, plan capacity.

Mounted by the main CLI as ``aicc sim``; also runs alone (``python -m aicc.cli.sim``). The simulator
modules are imported inside the commands to keep the CLI's start-up fast.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from aicc.sim.center import SimCenter
    from aicc.sim.trace import Trace

app = typer.Typer(help="Trace-driven simulation of the center's scheduler.", no_args_is_help=True,
                  pretty_exceptions_enable=False, rich_markup_mode=None, add_completion=False)

TraceOpt = Annotated[Path | None, typer.Option("--trace", help="Philly/Gavel directory or CSV file.")]
CenterOpt = Annotated[Path | None, typer.Option(
    "--center", help="center.toml (inventory + [[projects]]) or a Gavel cluster_specs JSON.")]
SynthOpt = Annotated[int, typer.Option("--synthetic", help="Generate this many synthetic jobs instead.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the synthetic generator.")]
LenientOpt = Annotated[bool, typer.Option("--lenient", help="Skip and count malformed trace lines.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
IntervalOpt = Annotated[float, typer.Option("--cycle-interval",
                                            help="Seconds between scheduling cycles (0: after every event).")]
ExaminedOpt = Annotated[int, typer.Option("--max-examined", help="Jobs examined per cycle (0: no limit).")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _load(trace: Path | None, center: Path | None, synthetic: int, seed: int,
          lenient: bool) -> tuple[Trace, SimCenter]:
    from aicc.core.errors import InvalidInput
    from aicc.sim.center import CenterError, gavel_center, gavel_center_from_json, parse_center
    from aicc.sim.trace import TraceError, load_trace
    from aicc.sim.trace import synthetic as generate

    try:
        if center is None:
            c = gavel_center()
        elif center.suffix == ".json":
            c = gavel_center_from_json(center.read_text())
        else:
            c = parse_center(center.read_text(), str(center))
        if synthetic:
            speeds = {f.name: 1.0 for f in c.flavors if not f.cpu}
            t = generate(synthetic, flavors=speeds, seed=seed)
        elif trace is None:
            raise _fail("give --trace FILE or --synthetic N")
        else:
            t = load_trace(trace, lenient=lenient)
    except (TraceError, CenterError, InvalidInput, OSError, ValueError) as e:
        raise _fail(str(e)) from None
    return t, c


@app.command()
def run(
    out: Annotated[Path, typer.Option("--out", help="Directory for report.json and report.html.")],
    trace: TraceOpt = None,
    center: CenterOpt = None,
    policy: Annotated[list[str] | None, typer.Option(
        "--policy", help="fifo, easy, aicc or hetero; repeat to compare on the same trace.")] = None,
    synthetic: SynthOpt = 0,
    seed: SeedOpt = 0,
    lenient: LenientOpt = False,
    cycle_interval: IntervalOpt = 0.0,
    max_examined: ExaminedOpt = 0,
    decision_log: Annotated[bool, typer.Option(
        "--decision-log", help="Write each cycle's admissions to decisions-<policy>.jsonl.")] = False,
    matrix: Annotated[Path | None, typer.Option(
        "--matrix", help="Throughput matrix JSON (`aicc bench matrix --export`): places and times jobs.")] = None,
    matrix_class: Annotated[str | None, typer.Option(
        "--matrix-class", help="Workload class for trace jobs that have none (with --matrix).")] = None,
    preempt_grace: Annotated[float | None, typer.Option(
        "--preempt-grace", help="Seconds a preempted job keeps its units (default: the center's, else 10).")] = None,
    checkpoint: Annotated[float | None, typer.Option(
        "--checkpoint", help="Checkpoint interval in seconds of jobs and projects that declare none "
                             "(default: the center's, else none: a victim loses its whole attempt).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay a trace under one or more policies and write the report."""
    from aicc.core.scheduling import POLICIES
    from aicc.sim.engine import simulate
    from aicc.sim.metrics import summarize
    from aicc.sim.report import write_report

    t, c = _load(trace, center, synthetic, seed, lenient)
    if matrix is not None:
        from aicc.sim.measured import apply_matrix, load_matrix

        try:
            t = apply_matrix(t, load_matrix(matrix.read_text()), matrix_class)
        except (OSError, ValueError) as e:
            raise _fail(f"--matrix: {e}") from None
    if preempt_grace is not None or checkpoint is not None:
        from aicc.sim.center import CenterError, PreemptionCost

        try:
            c = replace(c, preemption=PreemptionCost(
                c.preemption.grace_s if preempt_grace is None else preempt_grace,
                c.preemption.checkpoint_s if checkpoint is None else checkpoint))
        except CenterError as e:
            raise _fail(f"--preempt-grace/--checkpoint: {e}") from None
    names = policy or ["aicc"]
    for p in names:
        if p not in POLICIES:
            raise _fail(f"unknown policy {p!r} (known: {', '.join(POLICIES)})")
    summaries: dict[str, dict[str, Any]] = {}
    for p in names:
        cfg = replace(POLICIES[p], max_examined=max_examined) if max_examined else POLICIES[p]
        began = time.perf_counter()
        r = simulate(t, c, cfg, cycle_interval=cycle_interval, decision_log=decision_log)
        r.policy = p
        s = summarize(r)
        s["wall_s"] = time.perf_counter() - began
        summaries[p] = s
        if decision_log:
            out.mkdir(parents=True, exist_ok=True)
            with (out / f"decisions-{p}.jsonl").open("w") as fh:
                for d in r.decisions:
                    fh.write(json.dumps(d) + "\n")
    meta = {"trace": str(trace) if trace else f"synthetic({synthetic}, seed={seed})", "jobs": len(t.jobs),
            "skipped_lines": t.skipped, "center": c.name, "capacity": c.capacity(),
            "cycle_interval_s": cycle_interval, "max_examined": max_examined,
            "preempt_grace_s": c.preemption.grace_s, "checkpoint_s": c.preemption.checkpoint_s}
    jpath, hpath = write_report(out, meta, summaries)
    _print_run(meta, summaries, as_json, jpath, hpath)


def _print_run(meta: dict[str, Any], summaries: dict[str, dict[str, Any]], as_json: bool, jpath: Path,
               hpath: Path) -> None:
    if as_json:
        rows = {p: {k: s[k] for k in ("finished", "unfinished", "unschedulable", "preemptions", "makespan_s",
                                      "wait_s", "jct_s", "slowdown", "wall_s", "by_width", "preemption")} |
                {"jain": s["fairness"]["jain_share_over_entitlement"],
                 "wait_fairness": s["fairness"]["jain_project_mean_wait"],
                 "window_fairness": s["fairness"]["windows"]["mean_jain"]} for p, s in summaries.items()}
        typer.echo(json.dumps(_json_safe({"meta": meta, "policies": rows, "report": str(jpath), "html": str(hpath)}),
                              default=str))
        return
    from rich.console import Console
    from rich.table import Table

    from aicc.sim.report import summary_rows

    head, body = summary_rows(summaries)
    keep = ("policy", "finished", "mean JCT h", "p95 JCT h", "mean wait h", "max wait h", "preemptions",
            "lost accel-h", "window fairness")
    table = Table(title=f"{meta['jobs']:,} jobs on {meta['center']} {meta['capacity']}")
    for col in (*keep, "wall s"):
        table.add_column(col, justify="right", overflow="fold")  # fold, never elide: "15,264 of 15,264"
    for row, s in zip(body, summaries.values(), strict=True):
        table.add_row(*(row[head.index(c)] for c in keep), f"{s['wall_s']:.1f}")
    console = Console(width=max(Console().width, 150))  # a narrow terminal wraps lines rather than squeeze cells
    console.print(table)
    for p, s in summaries.items():
        why = not_finished(meta["jobs"], s)
        if why:
            typer.echo(f"{p}: {why}")
    typer.echo(f"report: {jpath}  {hpath}")


def not_finished(jobs: int, s: dict[str, Any]) -> str | None:
    """Why a run finished fewer jobs than the trace holds (None when it finished them all)."""
    if s["finished"] >= jobs:
        return None
    parts = []
    if s["unschedulable"]:
        parts.append(f"{s['unschedulable']:,} could never start: they ask for more accelerators than every flavor "
                     "they accept has in all (or than their project's quota)")
    if s["unfinished"]:
        parts.append(f"{s['unfinished']:,} were still waiting or running when the simulation stopped (e.g. their "
                     "project's budget ran out)")
    return f"finished {s['finished']:,} of {jobs:,} jobs; " + "; ".join(parts)


@app.command("plan")
def plan_cmd(
    target: Annotated[str, typer.Option("--target", help='e.g. "p95_wait<=2h", "mean_jct<=30m".')],
    flavor: Annotated[str, typer.Option("--flavor", help="The flavor whose size is swept.")],
    low: Annotated[int, typer.Option("--min", help="Smallest accelerator count to try.")] = 8,
    high: Annotated[int, typer.Option("--max", help="Largest accelerator count to try.")] = 4096,
    trace: TraceOpt = None,
    center: CenterOpt = None,
    policy: Annotated[str, typer.Option("--policy")] = "aicc",
    synthetic: SynthOpt = 0,
    seed: SeedOpt = 0,
    lenient: LenientOpt = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write plan.json and plan.html here.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Smallest size of one flavor meeting a target (binary search; assumes the metric is monotone in size)."""
    from aicc.sim.plan import parse_target, plan

    try:
        tgt = parse_target(target)
    except ValueError as e:
        raise _fail(str(e)) from None
    t, c = _load(trace, center, synthetic, seed, lenient)
    if flavor not in {f.name for f in c.flavors}:
        raise _fail(f"unknown flavor {flavor!r}")
    res = plan(t, c, tgt, flavor, low, high, policy)
    doc = {"target": target, "flavor": flavor, "policy": policy, "best": res.best,
           "assumption": "the target metric does not get worse as the flavor grows (binary search)",
           "tried": [{"count": k, "value": v} for k, v in sorted(res.tried.items())]}
    if out is not None:
        from aicc.sim.report import json_safe
        from aicc.sim.svg import line_chart

        out.mkdir(parents=True, exist_ok=True)
        (out / "plan.json").write_text(json.dumps(json_safe(doc), indent=1))
        chart = line_chart({f"{tgt.stat} {tgt.metric}": sorted(res.tried.items()),
                            "target": [(low, tgt.limit), (high, tgt.limit)]},
                           f"{target} against {flavor} size", f"{flavor} accelerators", tgt.metric)
        (out / "plan.html").write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>plan</title>"
                                       f"</head><body><h1>Capacity plan</h1><p>smallest: {res.best}</p>"
                                       f"{chart}</body></html>")
    if as_json:
        typer.echo(json.dumps(_json_safe(doc)))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{target} on {flavor} ({policy})")
    table.add_column("count", justify="right")
    table.add_column(f"{tgt.stat} {tgt.metric}", justify="right")
    table.add_column("meets", justify="center")
    for k, v in sorted(res.tried.items()):
        shown = f"{v:.4g}" if tgt.metric == "slowdown" else _duration(v)
        table.add_row(str(k), shown, "yes" if v <= tgt.limit else "no")
    console = Console()
    console.print(table)
    typer.echo(f"smallest {flavor} count meeting {target}: {res.best if res.best is not None else 'none'}")


def _duration(seconds: float) -> str:
    """Seconds as a person reads them: 45 s, 12.5 min, 3.2 h, 4.1 d."""
    if seconds != seconds or seconds == float("inf"):
        return str(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _json_safe(doc: dict[str, Any]) -> dict[str, Any]:
    from aicc.sim.report import json_safe

    cleaned: dict[str, Any] = json_safe(doc)
    return cleaned


if __name__ == "__main__":
    app()
