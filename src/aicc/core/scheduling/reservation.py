"""Reservation and backfill (EASY): the first job that cannot start reserves its earliest start; later jobs
start only if they do not delay it. Also the early stops that end a walk when nothing more can start.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping

from aicc.core.scheduling.capacity import FlavorPool, pick_nodes
from aicc.core.scheduling.model import Pass, PendingJob, Reservation
from aicc.core.scheduling.queues import Queues
from aicc.core.scheduling.windows import Past, blocker, runs_on


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
                if not reserved or (units <= extra and self._outlasting_fits(pool, units)) or \
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
                if not reserved or (units <= extra and self._outlasting_fits(pool, units)) or \
                        self._now + self.demand.shortest_limit(f, units, self.pending) <= reservation.start:
                    return False
        return True

    def _outlasting_fits(self, pool: FlavorPool, units: int) -> bool:
        """A one-node gang still running at the reservation's start has a node: one not reserved with ``units``
        free, or a reserved one with that much to spare (wider gangs: assumed yes, erring towards walking on)."""
        if units > pool.per_node_max:
            return True
        spare = self._spare
        for v in range(pool.top, units - 1, -1):
            for name in pool.buckets.get(v, ()):
                cap = spare.get(name)
                if cap is None or cap >= units:
                    return True
        return False

    @staticmethod
    def _hole(pool: FlavorPool, units: int) -> bool:
        """Some node (or, for a gang larger than any node, the fewest nodes it needs) has ``units`` free."""
        if units > pool.per_node_max:
            return pool.fits_across(units)
        return pool.top >= units


    def _reserve(self, job: PendingJob, flavors: list[str], now: float) -> tuple[Reservation | None, int]:
        """The blocked head's reservation: on the flavor where it can start first, the earliest time (from
        running jobs' time limits) at which a node set of its shape is free, released devices counted on
        their own nodes; the nodes it will take, and what a job that outlasts that time may still take on
        each (``spare``). With it, the units on the flavor such a job may take in all (an upper bound)."""
        best: tuple[float, str, dict[str, int], dict[str, int]] | None = None
        for flavor in flavors:
            units = self._units(job, flavor)
            pool = self.pools[flavor]
            if units > pool.total:
                continue
            found = self._earliest(pool, flavor, units, now)
            if found is not None and flavor in self.windows.by_flavor:
                found = self._clear_of_windows(job, pool, flavor, units, now, found)
            if found is not None and (best is None or found[0] < best[0]):
                best = (found[0], flavor, found[1], found[2])
        if best is None:
            return None, 0
        at, flavor, chosen, free_at = best
        pool = self.pools[flavor]
        cpu = pool.flavor.cpu
        spare = {n: free_at[n] - chosen[n] for n in chosen}
        locked = sum(max(pool.nodes[n].units(cpu) - spare[n], 0) for n in chosen)
        return Reservation(job.id, flavor, at, spare), pool.free - locked

    def _clear_of_windows(self, job: PendingJob, pool: FlavorPool, flavor: str, units: int, now: float,
                          found: tuple[float, dict[str, int], dict[str, int]]
                          ) -> tuple[float, dict[str, int], dict[str, int]] | None:
        """The first start from ``found`` (a fit by node shape) that reserved windows also allow: while a window
        the head is not a member of keeps it off (:func:`~aicc.core.scheduling.windows.blocker`), it moves on to
        the end of the running job after which the runs ending past the instant in the way have freed the units
        missing there, or the first end of the windows in force there if sooner (no earlier start can pass:
        what those windows need falls only as they end, what is still running only as runs end), and is checked
        again. Its members' own windows never move it (a member starts in its window). Asked only on a flavor
        with windows: elsewhere the reservation costs what it did."""
        if self._past is None:
            self._past = Past(lambda f: runs_on(self, f))
        cache, ends, limit, running = self._past, self._ends[flavor], job.time_limit_s, self.running

        def past(t: float) -> tuple[int, Mapping[int, int]]:
            return cache.at(flavor, t)

        current: tuple[float, dict[str, int], dict[str, int]] | None = found
        while current is not None:
            hit = blocker(self.windows, job.project, flavor, units, current[0], current[0] + limit,
                          total=pool.total, past=past)
            if hit is None:
                return current
            after, freed = hit.until, 0
            for i in range(bisect.bisect_right(ends, (hit.at, math.inf)), len(ends)):
                end_by, rid = ends[i]
                if end_by >= after:
                    break
                freed += running[rid].units
                if freed >= hit.short:
                    after = end_by
                    break
            current = self._earliest(pool, flavor, units, now, after)
        return None

    def _earliest(self, pool: FlavorPool, flavor: str, units: int, now: float,
                  after: float | None = None) -> tuple[float, dict[str, int], dict[str, int]] | None:
        """When and where a gang of ``units`` first fits by node shape as running jobs end (not before ``after``,
        when given), with the free units then of the nodes it takes; None if it never does. Costs the jobs it
        walks past and the node shapes (a histogram of free units), not the number of nodes: it runs each cycle
        a head is blocked. Kept until the running jobs change: a refused preemption and the reservation that
        follows ask the same question."""
        after = now if after is None else max(after, now)
        key = (flavor, units, now, self._changes, after)
        if key in self._earliest_memo:
            return self._earliest_memo[key]
        found = self._earliest_of(pool, flavor, units, now, after)
        self._earliest_memo[key] = found
        return found

    def _earliest_of(self, pool: FlavorPool, flavor: str, units: int, now: float,
                     after: float) -> tuple[float, dict[str, int], dict[str, int]] | None:
        cpu, widest, nodes = pool.flavor.cpu, pool.per_node_max, pool.nodes
        k = -(-units // widest) if widest else 0
        if not k or (cpu and units > widest):
            return None
        hist = [len(pool.buckets.get(v, ())) for v in range(widest + 1)]
        touched: dict[str, int] = {}  # free units of the nodes running jobs' ends change, as of ``at``

        def fits() -> bool:
            need, got = k, 0
            for v in range(widest, 0, -1):
                take = min(hist[v], need)
                got += take * v
                need -= take
                if got >= units and (k > 1 or v >= units):
                    return True
                if not need:
                    return False
            return False

        at = now
        if not fits() or after > now:
            running = self.running
            for end_by, rid in self._ends[flavor]:
                if (at >= after or end_by > after) and fits():
                    break  # what is free as of ``at`` serves from ``after`` on
                for p in running[rid].placements:
                    node = nodes.get(p.node)
                    if node is None or not node.info.available:
                        continue
                    before = touched.get(p.node)
                    if before is None:
                        before = node.units(cpu)
                    freed = before + (p.cpus if cpu else len(p.devices))
                    touched[p.node] = freed
                    hist[min(before, widest)] -= 1
                    hist[min(freed, widest)] += 1
                at = max(end_by, now)
                if at >= after and fits():
                    break
            else:
                if not fits():
                    return None
            at = max(at, after)
        # the candidates: the nodes that changed, and up to k untouched nodes of each free size (any node of a
        # size serves as well as another)
        free = dict(touched)
        for v in range(widest, 0, -1):
            taken = 0
            for name in pool.buckets.get(v, ()):
                if taken == k:
                    break
                if name not in touched:
                    free[name] = v
                    taken += 1
        chosen = pick_nodes(free, units, widest)
        return None if chosen is None else (at, chosen, free)
