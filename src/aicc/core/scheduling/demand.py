"""What the waiting jobs ask for, kept as they come and go, so a cycle can tell early that none could start.

Per flavor and per project: gang sizes (units) with how many waiting jobs ask each; per flavor and gang size:
the shortest time limit, from a heap whose stale entries (jobs admitted or cancelled since) are dropped
when they surface, and all at once when they outnumber the live ones. Nothing here decides; the early stops
in :mod:`aicc.core.scheduling.scheduler` read it, and err towards walking on.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from aicc.core.scheduling.model import PendingJob

Plan = tuple[tuple[str, int], ...]
"""(flavor, units) in the order the policy tries a job's flavors."""


class Demand:
    def __init__(self, flavors: Iterable[str]) -> None:
        self.by_flavor: dict[str, dict[int, int]] = {f: {} for f in flavors}
        """Per flavor: units asked by waiting jobs that accept it -> how many such jobs."""
        self.by_project: dict[int, dict[str, dict[int, int]]] = {}
        """The same per project."""
        self._limits: dict[str, dict[int, list[tuple[float, int]]]] = {f: {} for f in self.by_flavor}
        self._entries = 0

    def add(self, job: PendingJob, plan: Plan, pending: Mapping[int, PendingJob]) -> None:
        """Count ``job`` (already in ``pending``) in."""
        self._count(job, +1, plan)
        limits = self._limits
        for f, units in plan:
            heapq.heappush(limits[f].setdefault(units, []), (job.time_limit_s, job.id))
        self._entries += len(plan)
        if self._entries > 4 * len(pending) + 4096:
            self._compact(pending)

    def add_many(self, items: list[tuple[PendingJob, Plan]], pending: Mapping[int, PendingJob]) -> None:
        """As :meth:`add` for each, each time-limit heap built once at the end (its minimum is the same)."""
        limits = self._limits
        touched: dict[tuple[str, int], list[tuple[float, int]]] = {}
        for job, plan in items:
            self._count(job, +1, plan)
            for f, units in plan:
                heap = touched.get((f, units))
                if heap is None:
                    heap = touched[f, units] = limits[f].setdefault(units, [])
                heap.append((job.time_limit_s, job.id))
            self._entries += len(plan)
        for heap in touched.values():
            heapq.heapify(heap)
        if self._entries > 4 * len(pending) + 4096:
            self._compact(pending)

    def remove(self, job: PendingJob, plan: Plan) -> None:
        """Count ``job`` out (its time limit entries go lazily)."""
        self._count(job, -1, plan)

    def _count(self, job: PendingJob, delta: int, plan: Plan) -> None:
        mine = self.by_project.get(job.project)
        if mine is None:
            mine = self.by_project[job.project] = {}
        by_flavor = self.by_flavor
        for f, units in plan:
            for d in (by_flavor[f], mine.get(f) or mine.setdefault(f, {})):
                count = d.get(units, 0) + delta
                if count > 0:
                    d[units] = count
                else:
                    d.pop(units, None)

    def shortest_limit(self, flavor: str, units: int, pending: Mapping[int, PendingJob]) -> float:
        """The shortest time limit among waiting jobs asking ``units`` on ``flavor`` (inf if none)."""
        heap = self._limits[flavor].get(units)
        while heap:
            limit, job_id = heap[0]
            j = pending.get(job_id)
            if j is not None and j.time_limit_s == limit:
                return limit
            heapq.heappop(heap)
            self._entries -= 1
        return float("inf")

    def _compact(self, pending: Mapping[int, PendingJob]) -> None:
        """Drop the entries of jobs no longer waiting, so the heaps stay small."""
        total = 0
        for per_units in self._limits.values():
            for units, heap in list(per_units.items()):
                live = [e for e in heap if (j := pending.get(e[1])) is not None and j.time_limit_s == e[0]]
                if live:
                    heapq.heapify(live)
                    per_units[units] = live
                    total += len(live)
                else:
                    del per_units[units]
        self._entries = total
