"""report.json and a self-contained report.html (inline SVG charts) for one or more policies."""

from __future__ import annotations

import json
import math
from html import escape
from pathlib import Path
from typing import Any

from aicc.sim.svg import bar_chart, line_chart

H = 3600.0


def _clean(v: Any) -> Any:
    """JSON has no NaN or infinity: write null."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    return v


def write_report(out: Path, meta: dict[str, Any], summaries: dict[str, dict[str, Any]],
                 charts: list[str] | None = None) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    doc = _clean({"meta": meta, "policies": summaries})
    jpath = out / "report.json"
    jpath.write_text(json.dumps(doc, indent=1))
    hpath = out / "report.html"
    hpath.write_text(render_html(meta, summaries, charts or []))
    return jpath, hpath


def _table(summaries: dict[str, dict[str, Any]]) -> str:
    head = ("policy", "finished", "mean JCT h", "median JCT h", "p95 JCT h", "p99 JCT h", "mean wait h",
            "mean slowdown", "makespan d", "Jain", "preemptions")
    rows = []
    for p, s in summaries.items():
        vals = (p, s["finished"], s["jct_s"]["mean"] / H, s["jct_s"]["median"] / H, s["jct_s"]["p95"] / H,
                s["jct_s"]["p99"] / H, s["wait_s"]["mean"] / H, s["slowdown"]["mean"], s["makespan_s"] / 86400,
                s["fairness"]["jain_share_over_entitlement"], s["preemptions"])
        rows.append("<tr>" + "".join(f"<td>{escape(v if isinstance(v, str) else f'{v:.4g}')}</td>"
                                     for v in vals) + "</tr>")
    return ("<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + "".join(rows) + "</table>")


def policy_charts(summaries: dict[str, dict[str, Any]]) -> list[str]:
    charts = []
    flavors = list(dict.fromkeys(f for s in summaries.values() for f in s["utilization"]))
    for f in flavors:
        series = {}
        for p, s in summaries.items():
            u = s["utilization"][f]
            series[p] = [((i + 0.5) * u["bin_s"] / 86400, v) for i, v in enumerate(u["fraction"])]
        charts.append(line_chart(series, f"Utilization of {f}", "days", "busy fraction"))
    charts.append(line_chart({p: [((i + 0.5) * s["queue"]["bin_s"] / 86400, v)
                                  for i, v in enumerate(s["queue"]["mean_length"])] for p, s in summaries.items()},
                             "Queue length", "days", "pending jobs"))
    charts.append(line_chart({p: [(w, q) for w, q in s["wait_cdf"]] for p, s in summaries.items()},
                             "Wait-time CDF", "wait (s, log)", "fraction of jobs", logx=True))
    charts.append(bar_chart({k: {p: s["jct_s"][k] / H for p, s in summaries.items()}
                             for k in ("mean", "median", "p95", "p99")}, "Job completion time", "hours"))
    charts.append(bar_chart({k: {p: s["slowdown"][k] for p, s in summaries.items()}
                             for k in ("mean", "median", "p95")}, "Slowdown", "JCT / best run time"))
    first = next(iter(summaries.values()))
    top = sorted(first["fairness"]["projects"], key=lambda n: -first["fairness"]["projects"][n]["share"])[:12]
    for p, s in summaries.items():
        pr = s["fairness"]["projects"]
        charts.append(bar_chart({n: {"share": pr[n]["share"], "entitlement": pr[n]["entitlement"]} for n in top},
                                f"{p}: share of use vs entitlement (Jain "
                                f"{s['fairness']['jain_share_over_entitlement']:.3f})", "fraction"))
    charts.append(bar_chart({n: {p: s["fairness"]["projects"][n]["su"] for p, s in summaries.items()} for n in top},
                            "Budget burn per allocation (SU)", "SU"))
    return charts


def render_html(meta: dict[str, Any], summaries: dict[str, dict[str, Any]], extra: list[str]) -> str:
    charts = policy_charts(summaries) if summaries else []
    budget_rows = []
    for p, s in summaries.items():
        for n, v in s["fairness"]["projects"].items():
            if v["budget_su"] is not None:
                budget_rows.append(f"<tr><td>{escape(p)}</td><td>{escape(n)}</td><td>{v['su']:.1f}</td>"
                                   f"<td>{v['budget_su']:.1f}</td><td>{(v['budget_used'] or 0) * 100:.1f}%</td></tr>")
    budget = ("<h2>Budgets</h2><table><tr><th>policy</th><th>project</th><th>SU spent</th><th>budget</th>"
              "<th>used</th></tr>" + "".join(budget_rows) + "</table>") if budget_rows else ""
    info = "".join(f"<li><b>{escape(str(k))}</b>: {escape(str(v))}</li>" for k, v in meta.items())
    return ("<!doctype html><html><head><meta charset='utf-8'><title>AICC simulation report</title><style>"
            "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
            "padding:3px 8px;text-align:right}svg{margin:8px}</style></head><body><h1>AICC simulation report</h1>"
            f"<ul>{info}</ul>" + (_table(summaries) if summaries else "") + budget +
            "<div>" + "".join(extra + charts) + "</div></body></html>")
