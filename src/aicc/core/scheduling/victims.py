"""Choosing preemption victims by node shape, and telling when no choice can help: pure functions over one pool.

A job within its nominal quota takes back borrowed capacity only where that gives it a place: one node with
its units free (a gang that fits on one node), or the fewest nodes a wider gang needs, whole nodes first (16
on 8-accelerator nodes: two whole nodes; 12: one whole node and 4). Counting units would preempt jobs whose
accelerators end up scattered over nodes the gang still cannot use; the victims are chosen so their nodes
give it that shape, at the least cost (accelerator-time the victims lose: since their last checkpoint, all of
the run without one, and the grace period; then priority, then newest). :func:`lost` is that cost.

``coming`` is what victims already in their grace period will free per node; ``cap`` limits what the job may
use on the nodes a reservation holds (a job that would still run when the reservation starts): victims are
never taken there, so a preemption does not open a hole the job then may not use.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from aicc.core.scheduling.capacity import FlavorPool
from aicc.core.scheduling.model import RunningJob

Cost = tuple[float, int, float, int]
"""A victim's cost: (accelerator-seconds it would lose, priority, -start, -id): lower goes first."""


def lost(v: RunningJob, now: float, grace_s: float) -> float:
    """Accelerator-seconds (units-seconds) ``v`` loses if it is told to stop at ``now``: the run time since its
    last checkpoint (all of it without checkpoints) and the grace period it holds its units through."""
    ran = max(now - v.start_time, 0.0)
    c = v.checkpoint_s
    if c:
        ran -= (ran // c) * c
    return v.units * (ran + grace_s)


def _base(pool: FlavorPool, coming: Mapping[str, int], cap: Mapping[str, int] | None) -> dict[str, int]:
    """Units per available node once victims in their grace period are gone (capped where reserved)."""
    out: dict[str, int] = {}
    for name, node in pool.nodes.items():
        if not node.info.available:
            continue
        free = len(node.devices) + coming.get(name, 0)
        if cap is not None and name in cap:
            free = min(free, max(cap[name], 0))
        out[name] = free
    return out


def _by_node(victims: Iterable[RunningJob], base: Mapping[str, int], cap: Mapping[str, int] | None,
             now: float, grace_s: float) -> dict[str, list[tuple[Cost, int, int]]]:
    """Per node (never a capped one): (cost, victim id, units it frees there), cheapest first."""
    per: dict[str, list[tuple[Cost, int, int]]] = {}
    for v in victims:
        cost: Cost = (lost(v, now, grace_s), v.priority, -v.start_time, -v.id)
        for p in v.placements:
            if p.node in base and (cap is None or p.node not in cap):
                per.setdefault(p.node, []).append((cost, v.id, len(p.devices)))
    for items in per.values():
        items.sort()
    return per


def top_fits(free: Mapping[str, int], units: int, k: int) -> bool:
    """The ``k`` nodes with most free hold ``units`` between them (what :func:`capacity.pick_nodes` needs)."""
    if k <= 1:
        return any(f >= units for f in free.values())
    return sum(sorted(free.values(), reverse=True)[:k]) >= units


def _prefix(items: list[tuple[Cost, int, int]], have: int, target: int) -> tuple[float, list[int]] | None:
    """The cheapest victims (in cost order) that bring a node from ``have`` to ``target`` free units."""
    cost, chosen = 0.0, []
    for c, vid, n in items:
        if have >= target:
            break
        chosen.append(vid)
        cost += c[0]
        have += n
    return (cost, chosen) if have >= target else None


def choose(pool: FlavorPool, units: int, victims: list[RunningJob], coming: Mapping[str, int],
           now: float, cap: Mapping[str, int] | None = None, grace_s: float = 0.0) -> list[int] | None:
    """Victims whose leaving gives a gang of ``units`` a place of its shape, at the least cost; [] when victims
    already leaving give it one (wait for them); None when no set of ``victims`` can."""
    widest = pool.per_node_max
    if units <= 0 or widest <= 0:
        return None
    k = math.ceil(units / widest)
    base = _base(pool, coming, cap)
    if top_fits(base, units, k):
        return [] if coming else None  # it has a place once those leave (or now: then something else blocks it)
    per = _by_node(victims, base, cap, now, grace_s)
    if not per:
        return None
    targets = [widest] * (k - 1) + [units - widest * (k - 1)]
    used: set[str] = set()
    chosen: list[int] = []
    cur = base
    for target in targets:  # whole nodes first, the rest on the node where it costs least
        best: tuple[float, int, str, list[int]] | None = None
        for name, have in cur.items():
            if name in used:
                continue
            items = [it for it in per.get(name, []) if it[1] not in chosen]
            got = (0.0, []) if have >= target else _prefix(items, have, target)
            if got is not None and (best is None or (got[0], len(got[1])) < best[:2]):
                best = (got[0], len(got[1]), name, got[1])
        if best is None:
            chosen = []
            break
        used.add(best[2])
        chosen += best[3]
        cur = _after(base, victims, chosen, cap)
    if chosen and top_fits(_after(base, victims, chosen, cap), units, k):
        return chosen
    return _fallback(units, k, base, per, victims, cap)


def _after(base: Mapping[str, int], victims: list[RunningJob], chosen: Iterable[int],
           cap: Mapping[str, int] | None = None) -> dict[str, int]:
    gone = set(chosen)
    free = dict(base)
    for v in victims:
        if v.id in gone:
            for p in v.placements:
                if p.node in free and (cap is None or p.node not in cap):
                    free[p.node] += len(p.devices)
    return free


def _fallback(units: int, k: int, base: Mapping[str, int], per: Mapping[str, list[tuple[Cost, int, int]]],
              victims: list[RunningJob], cap: Mapping[str, int] | None) -> list[int] | None:
    """No node set of the preferred shape (some nodes hold work that cannot be preempted): the ``k`` nodes that
    could free most, their victims cheapest first until the gang fits; None if even all of them cannot."""
    reach = {n: have + sum(u for _, _, u in per.get(n, [])) for n, have in base.items()}
    ranked = sorted(reach, key=lambda n: -reach[n])[:k]
    if sum(reach[n] for n in ranked) < units:
        return None
    pool_items = sorted(item for n in ranked for item in per.get(n, []))
    chosen: list[int] = []
    for _, vid, _ in pool_items:
        if vid in chosen:
            continue
        chosen.append(vid)
        if top_fits(_after(base, victims, chosen, cap), units, k):
            return chosen
    return None


def release_time(pool: FlavorPool, units: int, borrowed: list[RunningJob], coming: Mapping[str, int],
                 after: float, cap: Mapping[str, int] | None = None) -> float | None:
    """The earliest time (a borrowed job may be preempted ``after`` seconds after it started) at which some set
    of ``borrowed`` could give a gang of ``units`` its shape; None if not even all of them could."""
    widest = pool.per_node_max
    if units <= 0 or widest <= 0:
        return None
    k = math.ceil(units / widest)
    free = _base(pool, coming, cap)
    for v in sorted(borrowed, key=lambda j: (j.start_time, j.id)):
        for p in v.placements:
            if p.node in free and (cap is None or p.node not in cap):
                free[p.node] += len(p.devices)
        if top_fits(free, units, k):
            return v.start_time + after
    return None
