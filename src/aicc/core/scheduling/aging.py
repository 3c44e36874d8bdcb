"""Aging: a bound on how long a job waits, separate from fair share.

Fair share re-orders projects every cycle, and EASY reserves for the first job that cannot start, so under
fair share the reservation changes hands from cycle to cycle: a wide gang of a project with a large share is
never first for long, smaller jobs keep filling the nodes it needs, and it starves (on the Philly trace
8-GPU and wider gangs waited weeks). Aging fixes the order for old jobs only: every waiting job that has
waited ``PolicyConfig.age_after_s`` is examined before the fair-share walk, oldest first, and the first of
them that cannot start holds the cycle's reservation (node-aware, EASY's promise: nothing admitted after it
may delay it). The oldest aged job stays the oldest until it starts, so its reservation holds from cycle to
cycle and its start time can only move earlier.

Every aged job, not only each project's first: a project with a long backlog (over its share, so fair share
puts it last) would otherwise age one job at a time, and its later jobs waited longer than under plain
FIFO + EASY (on the Philly trace, 330 h against EASY's 274 h at full capacity). Past ``age_after_s`` the
order is EASY's.

The bound (documented in README): a job whose project keeps quota room and budget for it starts at most
``age_after_s`` + (1 + n) x L after it was submitted, where L is the longest time limit of the jobs on its
flavor and n the number of aged jobs older than it; with no older aged job, ``age_after_s`` + L. Jobs
within their nominal quota also preempt borrowed work when that is worth its cost
(:mod:`~aicc.core.scheduling.preemption`), which usually starts them much sooner.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import TYPE_CHECKING

from aicc.core.charging import su
from aicc.core.scheduling.model import Order, Pass
from aicc.core.scheduling.state import SchedulerState

if TYPE_CHECKING:
    from aicc.core.scheduling.cycle import Walk


def aged_jobs(state: SchedulerState, now: float, skip: set[int]) -> Iterator[int]:
    """Every waiting job that has waited ``age_after_s`` or longer, oldest first (submit time, then id), each
    project's in its queue's order; a project put in ``skip`` (no room, not eligible) is left at once. Lazy: a
    cycle pays for the jobs it takes and one per project, not for the whole aged queue."""
    cfg = state.config
    if cfg.age_after_s <= 0 or cfg.order is not Order.FAIRSHARE:
        return
    cutoff = now - cfg.age_after_s
    queues = state._queues
    heap = [(q[0][1], q[0][2], p, 0) for p, q in queues.items() if q and q[0][1] <= cutoff]
    heapq.heapify(heap)
    while heap:
        _, job_id, p, i = heapq.heappop(heap)
        if p in skip:
            continue
        yield job_id
        if p in skip:
            continue
        q = queues[p]
        if i + 1 < len(q) and q[i + 1][1] <= cutoff:
            heapq.heappush(heap, (q[i + 1][1], q[i + 1][2], p, i + 1))


def aged_pass(state: SchedulerState, project: int, plan: tuple[tuple[str, int], ...],
              room_of: dict[Pass, dict[str, float]]) -> tuple[Pass, list[tuple[str, int]]] | None:
    """The pass an aged job is examined in, and the flavors its project has quota room for there: within its
    nominal quota (it may preempt) if it can, else borrowing; None when its project has no room for it (it
    waits on its own project's quota, not on others)."""
    if not state.config.quotas:
        return Pass.ANY, list(plan)
    for kind in (Pass.GUARANTEED, Pass.BORROW):
        room = room_of[kind]
        fits = [fu for fu in plan if fu[1] <= room.get(fu[0], 0)]
        if fits:
            return kind, fits
    return None


def admit_aged(walk: Walk) -> None:
    """Jobs that have waited ``age_after_s`` go before fair share, oldest first: each is admitted if it fits,
    preempts if it is within its nominal quota and that helps (and is worth it), and the first that can do
    neither holds the cycle's reservation (the module's docstring says why). A project with no room
    or not eligible is left at its first aged job."""
    s, now = walk.s, walk.now
    skip: set[int] = set()
    for job_id in aged_jobs(s, now, skip):
        if walk.exhausted or walk.reservation is not None or walk.res.capped:
            return
        job = s.pending[job_id]
        if walk._eligible(job):
            skip.add(job.project)
            continue
        rooms = {Pass.GUARANTEED: s._room(job.project, Pass.GUARANTEED),
                 Pass.BORROW: s._room(job.project, Pass.BORROW)} if s.config.quotas else {}
        found = aged_pass(s, job.project, s._plans[job_id], rooms)
        if found is None:
            skip.add(job.project)
            continue
        kind, fits = found
        left = walk._budget_of(job.project)
        walk.kind = kind
        walk.res.examined += 1
        for flavor, units in fits:
            pool = s.pools[flavor]
            if units > pool.free - walk.held.get(flavor, 0) or \
                    su(units, job.time_limit_s, walk.rate[flavor]) > left:
                continue
            walk.lent = False
            if flavor in s.windows.by_flavor and not walk.window_allows(job, kind, flavor, units):
                continue
            where = pool.place(units, job.cpus, job.memory_mb)
            if where is not None:
                walk.admit(job, kind, flavor, units, where, aged=True)
                break
        else:
            walk.settled.add(job_id)
            walk.not_placed(job, kind, [f for f, _ in fits], left)
