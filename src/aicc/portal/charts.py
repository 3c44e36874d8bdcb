"""Inline SVG charts drawn on the server from the platform's own numbers.

Nothing is fetched and no script runs: a chart is markup in the page, scales with
its container (``viewBox``), is named for screen readers (``role="img"``, title,
description), and every page also offers the numbers as a table. Series differ
by dash pattern as well as colour, so they stay apart in grey scale.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from html import escape

from markupsafe import Markup

W, H, ML, MR, MT, MB = 640, 240, 70, 16, 16, 46
COLORS = ("#1f5fbf", "#b3261e", "#2e7d32", "#8a4b00", "#6a1b9a", "#00695c")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "10 4")
Point = tuple[dt.datetime, float]


def _scale(v: float, lo: float, hi: float, a: float, b: float) -> float:
    return a + (v - lo) / (hi - lo) * (b - a) if hi > lo else (a + b) / 2


def line_chart(
    series: Mapping[str, Sequence[Point]], *, title: str, description: str,
    fmt_x: Callable[[dt.datetime], str], fmt_y: Callable[[float], str],
    y_floor: float = 0.0, y_ceiling: float | None = None, projections: Mapping[str, Sequence[Point]] | None = None,
    chart_id: str = "chart", width: int = W, height: int = H, marker: tuple[dt.datetime, str] | None = None,
) -> Markup:
    """Time on x; a dotted continuation per series from ``projections`` (e.g. projected burn).

    ``width`` and ``height`` set the drawing's own units: text is 12 units tall, so a chart
    meant for a narrow card gets a smaller width to keep its labels readable when scaled.
    """
    projections = projections or {}
    per_row = max(1, (width - ML) // 150)
    legend_rows = -(-len(series) // per_row)
    pb = height - MB  # the plot's bottom edge; ticks and the legend go below it
    H = height + 18 * (legend_rows - 1)
    W = width
    pts = [p for v in list(series.values()) + list(projections.values()) for p in v]
    if not pts:
        return Markup("")
    t0 = min(p[0] for p in pts).timestamp()
    t1 = max(p[0] for p in pts).timestamp()
    y0 = min([y_floor, *(p[1] for p in pts)])
    y1 = y_ceiling if y_ceiling is not None else max([y0 + 1e-9, *(p[1] for p in pts)])

    def xy(p: Point) -> str:
        x = _scale(p[0].timestamp(), t0, t1, ML, W - MR)
        y = _scale(p[1], y0, y1, pb, MT)
        return f"{x:.1f},{y:.1f}"

    tid, did = f"{chart_id}-title", f"{chart_id}-desc"
    out = [f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-labelledby="{tid} {did}" '
           f'preserveAspectRatio="xMidYMid meet"><title id="{tid}">{escape(title)}</title>'
           f'<desc id="{did}">{escape(description)}</desc>',
           f'<rect x="{ML}" y="{MT}" width="{W - ML - MR}" height="{pb - MT}" fill="#fff" stroke="#6b6b6b"/>']
    for k in range(5):
        v = y0 + (y1 - y0) * k / 4
        py = _scale(v, y0, y1, pb, MT)
        out.append(f'<line x1="{ML}" x2="{W - MR}" y1="{py:.1f}" y2="{py:.1f}" stroke="#d9d9d9"/>'
                   f'<text x="{ML - 6}" y="{py + 4:.1f}" text-anchor="end" class="tick">{escape(fmt_y(v))}</text>')
        t = t0 + (t1 - t0) * k / 4
        px = _scale(t, t0, t1, ML, W - MR)
        label = fmt_x(dt.datetime.fromtimestamp(t, dt.UTC))
        anchor = "start" if k == 0 else "end" if k == 4 else "middle"
        out.append(f'<text x="{px:.1f}" y="{pb + 16}" text-anchor="{anchor}" class="tick">{escape(label)}</text>')
    if marker is not None and t0 < marker[0].timestamp() < t1:
        mx = _scale(marker[0].timestamp(), t0, t1, ML, W - MR)
        out.append(f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{MT}" y2="{pb}" stroke="#6b6b6b" stroke-dasharray="3 3"/>'
                   f'<text x="{mx + 4:.1f}" y="{MT + 12}" class="tick">{escape(marker[1])}</text>')
    for n, (label, values) in enumerate(series.items()):
        color, dash = COLORS[n % len(COLORS)], DASHES[n % len(DASHES)]
        if values:
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2.5"{dash_attr} '
                       f'points="{" ".join(xy(p) for p in values)}"/>')
        proj = projections.get(label)
        if proj:
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" stroke-dasharray="2 4" '
                       f'points="{" ".join(xy(p) for p in proj)}"/>')
        lx = ML + (n % per_row) * 150
        ly = pb + 38 + 18 * (n // per_row)
        out.append(f'<line x1="{lx}" x2="{lx + 22}" y1="{ly - 4}" y2="{ly - 4}" stroke="{color}" '
                   f'stroke-width="2.5"{f" stroke-dasharray={chr(34)}{dash}{chr(34)}" if dash else ""}/>'
                   f'<text x="{lx + 28}" y="{ly}" class="legend">{escape(label[:18])}</text>')
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 (every text and label above went through escape())


def bar_chart(items: Sequence[tuple[str, float]], *, title: str, description: str,
              fmt: Callable[[float], str], chart_id: str = "bars") -> Markup:
    """Horizontal bars, one per labelled value (e.g. pending jobs per project)."""
    if not items:
        return Markup("")
    row, label_w = 26, 170
    height = MT + row * len(items) + 8
    top = max([v for _, v in items] + [1e-9])
    tid, did = f"{chart_id}-title", f"{chart_id}-desc"
    out = [f'<svg class="chart" viewBox="0 0 {W} {height}" role="img" aria-labelledby="{tid} {did}">'
           f'<title id="{tid}">{escape(title)}</title><desc id="{did}">{escape(description)}</desc>']
    for i, (label, value) in enumerate(items):
        y = MT + i * row
        width = (W - label_w - 90) * value / top
        out.append(f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" class="tick">{escape(label[:24])}</text>'
                   f'<rect x="{label_w}" y="{y + 3}" width="{max(width, 1):.1f}" height="{row - 8}" '
                   f'fill="{COLORS[0]}"/><text x="{label_w + width + 6:.1f}" y="{y + 16}" class="tick">'
                   f'{escape(fmt(value))}</text>')
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 (every text and label above went through escape())
