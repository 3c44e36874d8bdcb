"""Preemption: a job within its nominal quota takes back capacity other projects borrowed.

Victims are borrowed jobs past their exemption (``preempt_after_s``), lowest priority and newest first; a
job whose victims are still in their grace period waits for them instead of choosing more.
"""

from __future__ import annotations

import heapq

from aicc.core.scheduling.model import PendingJob, RunningJob
from aicc.core.scheduling.reservation import Backfill


class Preemption(Backfill):
    def _preemptable(self) -> bool:
        """Some borrowed job could be preempted now (it is past its exemption)."""
        if not (self.config.preemption and self.config.quotas and self._borrowing):
            return False
        heap = self._borrow_starts
        while heap and heap[0][1] not in self._borrowing:
            heapq.heappop(heap)  # finished or already being preempted
        return bool(heap) and heap[0][0] <= self._now - self.config.preempt_after_s


    def _victims(self, flavor: str) -> tuple[list[RunningJob], int, int]:
        """Borrowed jobs on ``flavor`` that may be preempted now, in the order they would be (lowest priority,
        newest first), their units, and the units already being freed there. Kept for the cycle until the
        running set or the preempting set changes."""
        hit = self._victim_cache.get(flavor)
        if hit is None:
            running, preempting = self.running, self.preempting
            coming = sum(running[v].units for v in preempting if v in running and running[v].flavor == flavor)
            now, after = self._now, self.config.preempt_after_s
            candidates = sorted(  # every borrowed job not being preempted is in _borrowing
                (j for j in map(running.__getitem__, self._borrowing)
                 if j.flavor == flavor and j.borrowed and j.id not in preempting and now - j.start_time >= after),
                key=lambda j: (j.priority, -j.start_time, -j.id),
            )
            hit = self._victim_cache[flavor] = (candidates, sum(j.units for j in candidates), coming)
        return hit

    def _coming(self, flavors: list[str]) -> bool:
        """Capacity is already being freed on one of ``flavors`` (victims in their grace period)."""
        return bool(self.preempting) and any(self._victims(f)[2] for f in flavors)

    def _preempt_for(self, job: PendingJob, flavors: list[str]) -> list[int] | None:
        """Victims that make room for ``job`` on one of ``flavors``; [] if enough is already being freed.

        None when preemption cannot help (no borrowed capacity there).
        """
        for flavor in flavors:
            units = self._units(job, flavor)
            pool = self.pools[flavor]
            candidates, total, coming = self._victims(flavor)
            self._preempt_flavor = flavor
            if pool.free + coming >= units:
                if coming:
                    return []
                continue  # fits by count but not by node shape: preemption would not help
            if pool.free + coming + total < units:
                continue  # not enough borrowed capacity there even with every candidate
            chosen: list[int] = []
            freed = pool.free + coming
            for victim in candidates:
                if victim.project == job.project:
                    continue
                chosen.append(victim.id)
                freed += victim.units
                if freed >= units:
                    self.preempting.update(chosen)
                    self._borrowing.difference_update(chosen)
                    self._victim_cache.clear()
                    self._can_preempt = self._preemptable()
                    return chosen
        return None

