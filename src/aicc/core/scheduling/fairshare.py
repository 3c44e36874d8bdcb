"""Weighted dominant-resource fair share (DRF) between projects.

A project's dominant share is its largest fraction of any flavor's capacity,
divided by its weight. Projects furthest below their entitlement go first, so a
project that holds half the H100s waits behind one that holds a few A100s.
"""

from __future__ import annotations

from collections.abc import Mapping


def dominant_share(usage: Mapping[str, int], capacity: Mapping[str, int], weight: float) -> float:
    share = 0.0
    for flavor, used in usage.items():
        total = capacity.get(flavor, 0)
        if used and total:
            share = max(share, used / total)
    return share / weight if weight > 0 else float("inf")


def jain_index(values: list[float]) -> float:
    """Jain's fairness index: 1 when all equal, 1/n when one has everything."""
    if not values or not any(values):
        return 1.0
    return sum(values) ** 2 / (len(values) * sum(v * v for v in values))
