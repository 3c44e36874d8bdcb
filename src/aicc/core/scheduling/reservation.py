"""Reservation and backfill (EASY): the first job that cannot start reserves its earliest start; later jobs
start only if they do not delay it. Also the early stops that end a walk when nothing more can start.
"""

from __future__ import annotations

from collections.abc import Mapping

from aicc.core.scheduling.capacity import FlavorPool
from aicc.core.scheduling.model import Pass, PendingJob, Reservation
from aicc.core.scheduling.queues import Queues


class Backfill(Queues):
    def _exhausted(self, kind: Pass, reservation: Reservation | None = None, extra: int = 0) -> bool:
        """Nothing more can start in this pass: no flavor has a hole for its smallest waiting gang, nor for
        its smallest gang wider than a node, and preemption cannot help. This is what ends a cycle early
        when the queue is long.

        Both tests are needed: with every node partly used, the smallest one-node gang may find no node
        while a wider gang still fits across nodes (the older stop, on the smallest gang alone, ended the
        cycle there). :meth:`_nothing_fits` adds the reservation: it is exact, so it only ends sooner a walk
        that would admit nothing more."""
        if kind is Pass.GUARANTEED and self._can_preempt:
            return False
        for f, pool in self.pools.items():
            if pool.free <= 0:
                continue
            smallest, wide = self._smallest.get(f), self._wide.get(f)
            if (smallest is not None and self._hole(pool, smallest)) or \
                    (wide is not None and self._hole(pool, wide)):
                break
        else:
            return True
        return reservation is not None and self._nothing_fits(kind, reservation, extra)

    def _none_placeable(self, project: int, room: Mapping[str, float], reservation: Reservation,
                        extra: int) -> bool:
        """No waiting job of ``project`` could be placed now within ``room``: as :meth:`_nothing_fits`, for one
        project's jobs (cpus, memory and budget ignored, so it errs towards trying)."""
        for f, demand in self.demand.by_project.get(project, {}).items():
            pool = self.pools[f]
            if not demand or pool.free <= 0:
                continue
            reserved = f == reservation.flavor
            for units in sorted(demand):
                if units > pool.free or units > room[f]:
                    break
                if not self._hole(pool, units):
                    continue
                if not reserved or units <= extra or \
                        self._now + self.demand.shortest_limit(f, units, self.pending) <= reservation.start:
                    return False
        return True

    def _nothing_fits(self, kind: Pass, reservation: Reservation, extra: int) -> bool:
        """No pending job could start on any flavor, given the reservation: a gang on the reserved flavor
        must end before it starts or take no more than the ``extra`` units the reserved job leaves free.

        Conservative over all pending jobs (quotas, budgets, cpus and memory ignored; jobs decided in
        this cycle still counted), so it never cuts short a walk that could admit a job."""
        if kind is Pass.GUARANTEED and self._can_preempt:
            return False
        for f, pool in self.pools.items():
            if pool.free <= 0:
                continue
            reserved = f == reservation.flavor
            for units in sorted(self.demand.by_flavor[f]):
                if units > pool.free:
                    break
                if not self._hole(pool, units):
                    continue
                if not reserved or units <= extra or \
                        self._now + self.demand.shortest_limit(f, units, self.pending) <= reservation.start:
                    return False
        return True

    @staticmethod
    def _hole(pool: FlavorPool, units: int) -> bool:
        """Some node (or, for a gang larger than any node, the fewest nodes it needs) has ``units`` free."""
        if units > pool.per_node_max:
            return pool.fits_across(units)
        return pool.top >= units


    def _reserve(self, job: PendingJob, flavors: list[str], now: float) -> tuple[Reservation | None, int]:
        """Earliest start for the blocked head job from running jobs' time limits (flavor-level)."""
        best: tuple[float, str, int] | None = None
        for flavor in flavors:
            units = self._units(job, flavor)
            pool = self.pools[flavor]
            if units > pool.total:
                continue
            free = pool.free
            at = now
            if free < units:
                for end_by, rid in self._ends[flavor]:
                    free += self.running[rid].units
                    at = max(end_by, now)
                    if free >= units:
                        break
                else:
                    continue
            if best is None or at < best[0]:
                best = (at, flavor, free - units)
        if best is None:
            return None, 0
        return Reservation(job.id, best[1], best[0]), best[2]
