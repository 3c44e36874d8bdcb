"""The report reads as numbers, shows who waits, and its charts line up and do not run labels together."""

from __future__ import annotations

import re
from pathlib import Path

from aicc.sim.center import gavel_center
from aicc.sim.engine import simulate
from aicc.sim.metrics import summarize
from aicc.sim.report import count, policy_charts, render_html, summary_rows
from aicc.sim.svg import MB, H, _fmt, bar_chart, nice_step
from aicc.sim.trace import load_philly
from tests.sim.helpers import center, job, trace

SAMPLE = Path(__file__).parent.parent / "data" / "philly-gavel"


def _summaries() -> dict[str, dict[str, object]]:
    # EASY backfills the 1-GPU job before the 16-GPU one (it ends at 1,100 s); FIFO runs it last (1,600 s)
    t = trace(job(0, 0, 8, "a", gpu=1000), job(1, 1, 16, "b", gpu=100), job(2, 2, 1, "c", gpu=500))
    c = center(("gpu", 2, 8))
    return {p: summarize(simulate(t, c, p)) for p in ("fifo", "easy")}


def test_counts_are_whole_numbers_with_separators_never_exponents() -> None:
    assert count(15264) == "15,264" and _fmt(15264.0) == "15,264" and _fmt(1_250_000.0) == "1,250,000"
    assert _fmt(0.5) == "0.5" and nice_step(1164.7) == 500
    s = {"x": summarize(simulate(load_philly(SAMPLE), gavel_center(), "easy"))}
    head, rows = summary_rows(s)
    assert rows[0][head.index("finished")] == "189 of 189"
    html = render_html({}, s, [])
    assert not re.search(r"\de[+-]\d", html), "a number in exponent notation"


def test_html_lists_unschedulable_jobs_and_the_breakdowns() -> None:
    t = trace(job(0, 0, 1, "a", gpu=10), job(1, 1, 40, "b", gpu=10))
    s = {"fifo": summarize(simulate(t, center(("gpu", 2, 8)), "fifo"))}
    html = render_html({}, s, [])
    assert "Unschedulable jobs" in html and "needs 40 units; the largest acceptable flavor has 16" in html
    for heading in ("by job width", "by project", "max wait h", "lost accel-h", "window fairness"):
        assert heading in html


def _x_ticks(svg: str) -> list[str]:
    return re.findall(rf'<text x="[0-9.]+" y="{H - MB + 14}" text-anchor="middle">([^<]*)</text>', svg)


def test_every_chart_over_time_shares_one_axis() -> None:
    s = _summaries()
    # policies end at different times; the charts still span the same days
    assert s["fifo"]["end_s"] != s["easy"]["end_s"]
    over_time = [c for c in policy_charts(s) if ">days</text>" in c]
    assert len(over_time) >= 3  # utilization, queue, windowed fairness
    ticks = {tuple(_x_ticks(c)) for c in over_time}
    assert len(ticks) == 1 and len(next(iter(ticks))) >= 2


def test_crowded_group_labels_are_slanted_and_shortened_sparse_ones_are_not() -> None:
    names = {f"project-with-a-long-name-{k:02d}": {"a": float(k + 1)} for k in range(12)}
    crowded = bar_chart(names, "waits", "hours")
    assert crowded.count('transform="rotate(-35') == 12
    assert "<title>project-with-a-long-name-07</title>" in crowded and "…" in crowded
    sparse = bar_chart({"1": {"a": 1.0}, "2-4": {"a": 2.0}}, "waits", "hours")
    assert "rotate(-35" not in sparse and ">2-4</text>" in sparse
