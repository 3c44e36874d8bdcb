"""Small hand-written SVG charts: the report must be self-contained (no matplotlib, nothing fetched).

Numbers on axes read as numbers: thousands separated ("15,264"), never "1.526e+04"; ticks fall on round
values. Labels never run together: group labels that would overlap are slanted, long ones shortened (the
whole text stays in a tooltip), and legends keep to their column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

W, H, ML, MR, MT, MB = 640, 300, 64, 150, 28, 40
CHAR_W = 6.2
"""Rough width of one character at font-size 11, to know when labels would touch."""
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def _fmt(v: float) -> str:
    """A tick or value label: whole numbers from 1,000 on with separators, otherwise 3 significant digits."""
    if v == 0 or not math.isfinite(v):
        return "0" if v == 0 else str(v)
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) < 1e-3:
        return f"{v:.1e}"
    return f"{v:.3g}"


def nice_step(span: float, ticks: int = 4) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) that divides ``span`` into about ``ticks`` parts."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def _short(label: str, width_px: float) -> str:
    room = max(3, int(width_px / CHAR_W))
    return label if len(label) <= room else label[:room - 1] + "…"


def _legend(labels: Sequence[str]) -> list[str]:
    out = []
    for n, label in enumerate(labels):
        out.append(f'<rect x="{W - MR + 10}" y="{MT + 14 * n}" width="10" height="10" '
                   f'fill="{COLORS[n % len(COLORS)]}"/><text x="{W - MR + 24}" y="{MT + 14 * n + 9}">'
                   f'<title>{escape(label)}</title>{escape(_short(label, MR - 28))}</text>')
    return out


def _frame(title: str, xlabel: str, ylabel: str, x0: float, x1: float, y0: float, y1: float,
           logx: bool = False) -> list[str]:
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" '
           f'font-size="11"><text x="{ML}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
           f'<rect x="{ML}" y="{MT}" width="{W - ML - MR}" height="{H - MT - MB}" fill="none" stroke="#888"/>']
    for fy in _ticks(y0, y1):
        py = H - MB - (H - MT - MB) * (fy - y0) / (y1 - y0)
        out.append(f'<text x="{ML - 4}" y="{py + 4:.1f}" text-anchor="end">{_fmt(fy)}</text>')
    xs = [float(k) for k in range(math.ceil(x0), math.floor(x1) + 1)] if logx else _ticks(x0, x1)
    for fx in xs[:: max(1, len(xs) // 6 + (len(xs) % 6 > 0))] if logx else xs:
        px = ML + (W - ML - MR) * (fx - x0) / (x1 - x0)
        label = _fmt(10 ** fx) if logx else _fmt(fx)
        out.append(f'<text x="{px:.1f}" y="{H - MB + 14}" text-anchor="middle">{label}</text>')
    out.append(f'<text x="{ML + (W - ML - MR) / 2}" y="{H - 6}" text-anchor="middle">{escape(xlabel)}</text>')
    out.append(f'<text x="12" y="{MT + (H - MT - MB) / 2}" transform="rotate(-90 12 {MT + (H - MT - MB) / 2})" '
               f'text-anchor="middle">{escape(ylabel)}</text>')
    return out


def _ticks(lo: float, hi: float) -> list[float]:
    step = nice_step(hi - lo)
    first = math.ceil(lo / step - 1e-9) * step
    return [first + k * step for k in range(int((hi - first) / step + 1e-9) + 1)]


def line_chart(series: Mapping[str, Sequence[tuple[float, float]]], title: str, xlabel: str, ylabel: str,
               *, logx: bool = False, ymin: float | None = 0.0, xrange: tuple[float, float] | None = None) -> str:
    """One polyline per label; ``logx`` plots log10(x) (x < 1 is clamped to 1). ``xrange``: the x axis's span,
    so that all the charts of one run share one time axis."""
    pts = {k: [(math.log10(max(x, 1.0)) if logx else x, y) for x, y in v] for k, v in series.items() if v}
    xs = [x for v in pts.values() for x, _ in v] or [0.0, 1.0]
    ys = [y for v in pts.values() for _, y in v] or [0.0, 1.0]
    x0, x1 = xrange if xrange is not None else (min(xs), max(xs))
    y0 = min(ys) if ymin is None else min(ymin, min(ys))
    y1 = max(ys)
    x1 = x1 if x1 > x0 else x0 + 1
    y1 = y1 if y1 > y0 else y0 + 1
    out = _frame(title, xlabel, ylabel, x0, x1, y0, y1, logx)
    for n, v in enumerate(pts.values()):
        c = COLORS[n % len(COLORS)]
        path = " ".join(f"{ML + (x - x0) / (x1 - x0) * (W - ML - MR):.1f},"
                        f"{H - MB - (y - y0) / (y1 - y0) * (H - MT - MB):.1f}" for x, y in v)
        out.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.5" points="{path}"/>')
    out += _legend(list(pts))
    out.append("</svg>")
    return "".join(out)


def bar_chart(groups: Mapping[str, Mapping[str, float]], title: str, ylabel: str) -> str:
    """Grouped bars: ``groups[group][series] = value``."""
    labels = list(dict.fromkeys(s for g in groups.values() for s in g))
    top = max([v for g in groups.values() for v in g.values() if math.isfinite(v)] + [0.0]) or 1.0
    top = _ticks(0.0, top)[-1] if _ticks(0.0, top)[-1] >= top else top + nice_step(top)
    gw = (W - ML - MR) / max(len(groups), 1)
    longest = max((len(g) for g in groups), default=0) * CHAR_W
    slant = longest > gw - 4  # side by side they would run together
    height = H + (min(longest, 90.0) * 0.6 if slant else 0)
    out = _frame(title, "", ylabel, 0, 1, 0, top)[:2]
    out[0] = out[0].replace(f'height="{H}"', f'height="{height:.0f}"', 1)
    for fy in _ticks(0.0, top):
        py = H - MB - (H - MT - MB) * fy / top
        out.append(f'<text x="{ML - 4}" y="{py + 4:.1f}" text-anchor="end">{_fmt(fy)}</text>')
    bw = gw * 0.8 / max(len(labels), 1)
    for gi, (group, values) in enumerate(groups.items()):
        gx = ML + gi * gw + gw * 0.1
        for si, label in enumerate(labels):
            v = values.get(label, 0.0)
            v = v if math.isfinite(v) else 0.0
            h = v / top * (H - MT - MB)
            out.append(f'<rect x="{gx + si * bw:.1f}" y="{H - MB - h:.1f}" width="{bw * 0.9:.1f}" '
                       f'height="{h:.1f}" fill="{COLORS[si % len(COLORS)]}"><title>{escape(label)}: '
                       f'{_fmt(v)}</title></rect>')
        cx, cy = ML + gi * gw + gw / 2, H - MB + 14
        text = f'<title>{escape(group)}</title>{escape(_short(group, 90.0 if slant else gw - 4))}'
        out.append(f'<text x="{cx:.1f}" y="{cy}" text-anchor="end" transform="rotate(-35 {cx:.1f} {cy})">'
                   f'{text}</text>' if slant else f'<text x="{cx:.1f}" y="{cy}" text-anchor="middle">{text}</text>')
    out += _legend(labels)
    out.append("</svg>")
    return "".join(out)
