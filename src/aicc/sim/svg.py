"""Small hand-written SVG charts: the report must be self-contained (no matplotlib, nothing fetched)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

W, H, ML, MR, MT, MB = 640, 300, 64, 150, 28, 40
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-2:
        return f"{v:.2g}"
    return f"{v:.3g}"


def _frame(title: str, xlabel: str, ylabel: str, x0: float, x1: float, y0: float, y1: float,
           logx: bool = False) -> list[str]:
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" '
           f'font-size="11"><text x="{ML}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
           f'<rect x="{ML}" y="{MT}" width="{W - ML - MR}" height="{H - MT - MB}" fill="none" stroke="#888"/>']
    for k in range(5):
        fy = y0 + (y1 - y0) * k / 4
        py = H - MB - (H - MT - MB) * k / 4
        out.append(f'<text x="{ML - 4}" y="{py + 4:.1f}" text-anchor="end">{_fmt(fy)}</text>')
        fx = x0 + (x1 - x0) * k / 4
        px = ML + (W - ML - MR) * k / 4
        label = _fmt(10 ** fx) if logx else _fmt(fx)
        out.append(f'<text x="{px:.1f}" y="{H - MB + 14}" text-anchor="middle">{label}</text>')
    out.append(f'<text x="{ML + (W - ML - MR) / 2}" y="{H - 6}" text-anchor="middle">{escape(xlabel)}</text>')
    out.append(f'<text x="12" y="{MT + (H - MT - MB) / 2}" transform="rotate(-90 12 {MT + (H - MT - MB) / 2})" '
               f'text-anchor="middle">{escape(ylabel)}</text>')
    return out


def line_chart(series: Mapping[str, Sequence[tuple[float, float]]], title: str, xlabel: str, ylabel: str,
               *, logx: bool = False, ymin: float | None = 0.0) -> str:
    """One polyline per label; ``logx`` plots log10(x) (x <= 0 is clamped to the smallest positive x)."""
    pts = {k: [(math.log10(max(x, 1.0)) if logx else x, y) for x, y in v] for k, v in series.items() if v}
    xs = [x for v in pts.values() for x, _ in v] or [0.0, 1.0]
    ys = [y for v in pts.values() for _, y in v] or [0.0, 1.0]
    x0, x1 = min(xs), max(xs)
    y0 = min(ys) if ymin is None else min(ymin, min(ys))
    y1 = max(ys)
    x1 = x1 if x1 > x0 else x0 + 1
    y1 = y1 if y1 > y0 else y0 + 1
    out = _frame(title, xlabel, ylabel, x0, x1, y0, y1, logx)
    for n, (label, v) in enumerate(pts.items()):
        c = COLORS[n % len(COLORS)]
        path = " ".join(f"{ML + (x - x0) / (x1 - x0) * (W - ML - MR):.1f},"
                        f"{H - MB - (y - y0) / (y1 - y0) * (H - MT - MB):.1f}" for x, y in v)
        out.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.5" points="{path}"/>')
        out.append(f'<rect x="{W - MR + 10}" y="{MT + 14 * n}" width="10" height="10" fill="{c}"/>'
                   f'<text x="{W - MR + 24}" y="{MT + 14 * n + 9}">{escape(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def bar_chart(groups: Mapping[str, Mapping[str, float]], title: str, ylabel: str) -> str:
    """Grouped bars: ``groups[group][series] = value``."""
    labels = list(dict.fromkeys(s for g in groups.values() for s in g))
    top = max([v for g in groups.values() for v in g.values() if math.isfinite(v)] + [1e-9])
    out = _frame(title, "", ylabel, 0, 1, 0, top)[:2]
    for k in range(5):
        py = H - MB - (H - MT - MB) * k / 4
        out.append(f'<text x="{ML - 4}" y="{py + 4:.1f}" text-anchor="end">{_fmt(top * k / 4)}</text>')
    gw = (W - ML - MR) / max(len(groups), 1)
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
        out.append(f'<text x="{ML + gi * gw + gw / 2:.1f}" y="{H - MB + 14}" text-anchor="middle">'
                   f'{escape(group[:14])}</text>')
    for n, label in enumerate(labels):
        out.append(f'<rect x="{W - MR + 10}" y="{MT + 14 * n}" width="10" height="10" '
                   f'fill="{COLORS[n % len(COLORS)]}"/><text x="{W - MR + 24}" y="{MT + 14 * n + 9}">'
                   f'{escape(label)}</text>')
    out.append("</svg>")
    return "".join(out)
