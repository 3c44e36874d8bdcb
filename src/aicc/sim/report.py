"""report.json and a self-contained report.html (inline SVG charts) for one or more policies.

The HTML leads with who waits, not only averages: waits and JCTs by job width and by project with their
maxima, what preemption threw away, fairness measured on waits and on windowed shares, and the jobs that
could never run. Counts are whole numbers ("15,264 of 15,264"); every chart over time spans the same
axis (from 0 to the last finish of any policy) so that they line up.
"""

from __future__ import annotations

import json
import math
from html import escape
from pathlib import Path
from typing import Any

from aicc.sim.metrics import WIDTHS
from aicc.sim.svg import bar_chart, line_chart

H = 3600.0
DAY = 86400.0
MAX_ROWS = 100
"""Rows of a per-project or per-job table in the HTML (report.json has them all)."""


def json_safe(v: Any) -> Any:
    """JSON has no NaN or infinity: write null."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: json_safe(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [json_safe(x) for x in v]
    return v


def write_report(out: Path, meta: dict[str, Any], summaries: dict[str, dict[str, Any]],
                 charts: list[str] | None = None) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    doc = json_safe({"meta": meta, "policies": summaries})
    jpath = out / "report.json"
    jpath.write_text(json.dumps(doc, indent=1))
    hpath = out / "report.html"
    hpath.write_text(render_html(meta, summaries, charts or []))
    return jpath, hpath


def count(n: int) -> str:
    return f"{n:,}"


def num(v: float | None, digits: int = 2) -> str:
    """A measured value for a table cell: fixed decimals, thousands separated, a dash when there is none."""
    if v is None or not math.isfinite(v):
        return "–"
    return f"{v:,.{digits}f}"


def _table(head: tuple[str, ...], rows: list[list[str]], caption: str = "") -> str:
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return (f"<table>{cap}<tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>" +
            "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows) + "</table>")


def summary_rows(summaries: dict[str, dict[str, Any]]) -> tuple[tuple[str, ...], list[list[str]]]:
    head = ("policy", "finished", "unschedulable", "mean JCT h", "p95 JCT h", "mean wait h", "p95 wait h",
            "max wait h", "mean slowdown", "preemptions", "lost accel-h", "wait fairness", "window fairness",
            "worst window", "makespan d")
    rows = []
    for p, s in summaries.items():
        w = s["fairness"]["windows"]
        rows.append([p, f"{count(s['finished'])} of {count(s['jobs'])}", count(s["unschedulable"]),
                     num(s["jct_s"]["mean"] / H, 1), num(s["jct_s"]["p95"] / H, 1), num(s["wait_s"]["mean"] / H, 1),
                     num(s["wait_s"]["p95"] / H, 1), num(s["wait_s"]["max"] / H, 1), num(s["slowdown"]["mean"], 1),
                     count(s["preemptions"]), num(s["preemption"]["lost_unit_h"], 0),
                     num(s["fairness"]["jain_project_mean_wait"], 3), num(w["mean_jain"], 3),
                     num(w["worst_jain"], 3), num(s["makespan_s"] / DAY, 1)])
    return head, rows


def _hours(group: dict[str, Any]) -> list[str]:
    return [count(group["jobs"]), num(group["wait_s"]["mean"] / H, 2), num(group["wait_s"]["p95"] / H, 1),
            num(group["wait_s"]["max"] / H, 1), num(group["jct_s"]["mean"] / H, 1)]


def _breakdowns(summaries: dict[str, dict[str, Any]]) -> str:
    cols = ("jobs", "mean wait h", "p95 wait h", "max wait h", "mean JCT h")
    width = [[label, p, *_hours(s["by_width"][label])] for _, _, label in WIDTHS for p, s in summaries.items()]
    names = sorted({n for s in summaries.values() for n in s["by_project"]},
                   key=lambda n: -max((s["by_project"].get(n, {}).get("wait_s", {}).get("max") or 0.0)
                                      for s in summaries.values()))
    proj = [[n, p, *_hours(s["by_project"][n]), num(s["by_project"][n]["lost_unit_h"], 1)]
            for n in names[:MAX_ROWS] for p, s in summaries.items() if n in s["by_project"]]
    more = f" (the {count(MAX_ROWS)} with the longest waits of {count(len(names))}; all in report.json)" \
        if len(names) > MAX_ROWS else ""
    return ("<h2>Who waits: by job width (accelerators)</h2>" + _table(("width", "policy", *cols), width) +
            f"<h2>Who waits: by project{escape(more)}</h2>" +
            _table(("project", "policy", *cols, "lost accel-h"), proj))


def _unschedulable(summaries: dict[str, dict[str, Any]]) -> str:
    rows = [[p, str(j["id"]), j["project"], count(j["units"]), " | ".join(j["flavors"]), j["why"]]
            for p, s in summaries.items() for j in s["unschedulable_jobs"]]
    if not rows:
        return "<h2>Unschedulable jobs</h2><p>None: every job fits some acceptable flavor.</p>"
    more = f" (first {count(MAX_ROWS)} of {count(len(rows))}; all in report.json)" if len(rows) > MAX_ROWS else ""
    return (f"<h2>Unschedulable jobs{escape(more)}</h2>" +
            _table(("policy", "job", "project", "units", "flavors", "why"), rows[:MAX_ROWS]))


def horizon_days(summaries: dict[str, dict[str, Any]]) -> float:
    """The common time axis of a run's charts: up to the last finish under any policy."""
    return float(max([s.get("end_s", 0.0) / DAY for s in summaries.values()] + [1e-9]))


def policy_charts(summaries: dict[str, dict[str, Any]]) -> list[str]:
    charts = []
    axis = (0.0, horizon_days(summaries))
    flavors = list(dict.fromkeys(f for s in summaries.values() for f in s["utilization"]))
    for f in flavors:
        series = {}
        for p, s in summaries.items():
            u = s["utilization"][f]
            series[p] = [((i + 0.5) * u["bin_s"] / DAY, v) for i, v in enumerate(u["fraction"])]
        charts.append(line_chart(series, f"Utilization of {f}", "days", "busy fraction", xrange=axis))
    charts.append(line_chart({p: [((i + 0.5) * s["queue"]["bin_s"] / DAY, v)
                                  for i, v in enumerate(s["queue"]["mean_length"])] for p, s in summaries.items()},
                             "Queue length", "days", "pending jobs", xrange=axis))
    windows = {p: [((i + 0.5) * s["fairness"]["windows"]["bin_s"] / DAY, v)
                   for i, v in enumerate(s["fairness"]["windows"]["jain"]) if v is not None]
               for p, s in summaries.items()}
    charts.append(line_chart(windows, "Fair share within windows (Jain of satisfaction)", "days", "fairness",
                             xrange=axis))
    charts.append(line_chart({p: [(w, q) for w, q in s["wait_cdf"]] for p, s in summaries.items()},
                             "Wait-time CDF", "wait (s, log)", "fraction of jobs", logx=True))
    for stat in ("mean", "max"):
        charts.append(bar_chart({label: {p: s["by_width"][label]["wait_s"][stat] / H for p, s in summaries.items()
                                         if s["by_width"][label]["jobs"]} for _, _, label in WIDTHS},
                                f"{stat.capitalize()} wait by job width (accelerators)", "hours"))
    charts.append(bar_chart({k: {p: s["jct_s"][k] / H for p, s in summaries.items()}
                             for k in ("mean", "median", "p95", "p99")}, "Job completion time", "hours"))
    charts.append(bar_chart({p: {"lost accel-h": s["preemption"]["lost_unit_h"]} for p, s in summaries.items()},
                            "Accelerator-hours lost to preemption", "accelerator-hours"))
    names = sorted({n for s in summaries.values() for n in s["by_project"]},
                   key=lambda n: -max((s["by_project"].get(n, {}).get("wait_s", {}).get("max") or 0.0)
                                      for s in summaries.values()))[:12]
    charts.append(bar_chart({n: {p: (s["by_project"][n]["wait_s"]["max"] or 0.0) / H for p, s in summaries.items()
                                 if n in s["by_project"]} for n in names},
                            "Longest wait per project (the 12 longest)", "hours"))
    top = sorted(names, key=lambda n: -max(s["fairness"]["projects"].get(n, {}).get("su", 0.0)
                                           for s in summaries.values()))
    charts.append(bar_chart({n: {p: s["fairness"]["projects"][n]["su"] for p, s in summaries.items()
                                 if n in s["fairness"]["projects"]} for n in top},
                            "Budget burn per allocation (SU)", "SU"))
    return charts


def render_html(meta: dict[str, Any], summaries: dict[str, dict[str, Any]], extra: list[str]) -> str:
    charts = policy_charts(summaries) if summaries else []
    budget_rows = []
    for p, s in summaries.items():
        for n, v in s["fairness"]["projects"].items():
            if v["budget_su"] is not None:
                budget_rows.append([p, n, num(v["su"], 1), num(v["budget_su"], 1),
                                    f"{(v['budget_used'] or 0) * 100:.1f}%"])
    budget = ("<h2>Budgets</h2>" + _table(("policy", "project", "SU spent", "budget", "used"), budget_rows)
              if budget_rows else "")
    info = "".join(f"<li><b>{escape(str(k))}</b>: {escape(str(v))}</li>" for k, v in meta.items())
    cost = ""
    if summaries:
        pc = next(iter(summaries.values()))["preemption"]
        cost = ("<p>Preemption: a victim loses nothing (lossless, idealised).</p>" if pc["lossless"] else
                f"<p>Preemption: a victim holds its units for a {num(pc['grace_s'], 0)} s grace period and loses "
                "the work since its last checkpoint (" + (f"every {num(pc['checkpoint_s'], 0)} s unless its job "
                "or project says otherwise" if pc["checkpoint_s"] else "none unless its job or project declares "
                "an interval: the whole attempt") + "). Wait fairness: Jain's index of the projects' mean waits; "
                "window fairness: Jain's index, per time window, of how much of its due (its weight's share, or "
                "what it wanted if less) each project that wanted units got.</p>")
    body = ""
    if summaries:
        head, rows = summary_rows(summaries)
        body = _table(head, rows) + cost + _breakdowns(summaries) + _unschedulable(summaries)
    return ("<!doctype html><html><head><meta charset='utf-8'><title>AICC simulation report</title><style>"
            "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}"
            "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;white-space:nowrap}"
            "td:first-child{text-align:left}"
            "svg{margin:8px;vertical-align:top}</style></head><body><h1>AICC simulation report</h1>"
            f"<ul>{info}</ul>" + body + budget + "<div>" + "".join(extra + charts) + "</div></body></html>")
