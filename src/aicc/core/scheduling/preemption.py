"""Preemption: a job within its nominal quota takes back capacity other projects borrowed.

Victims are borrowed jobs of other projects past their exemption (``preempt_after_s``). A job that fits on
one node opens a hole of its shape on the node where that costs least (accelerator-time lost since the
victims' last checkpoints, with the grace period; then priority, then newest); a wider gang opens the fewest
nodes it needs, whole nodes first, where that costs least (:mod:`~aicc.core.scheduling.victims`). A job whose
victims are still in their grace period waits for them instead of choosing more.

Preemption has a cost, and the policy weighs it (``PolicyConfig.preempt_worth``): the cheapest victims are
taken only when the work they lose is at most ``preempt_worth`` x (1 + wait / ``age_after_s``) times what the
waiting job gains, its units x the time until a place of its shape frees by itself. A victim just started or
just checkpointed costs little; holders that end soon make the gain small, and the job waits for them instead
(first in line, its reservation holds their nodes while they drain). Killing work that is nearly done to
save a short wait is what made preemption lose more accelerator-hours than it saved on the Philly trace.

When no choice helps, or the only one costs too much, :meth:`Preemption._why_no_preemption` says why. Behind
borrowed work, a job within its project's nominal quota waits at most until preempting is worth it or the
work ends by its time limit; behind work within quotas, aging bounds the wait
(:mod:`~aicc.core.scheduling.aging`).
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Mapping

from aicc.core.jobs.reasons import Reason
from aicc.core.scheduling import reasons, victims
from aicc.core.scheduling.model import PendingJob, RunningJob
from aicc.core.scheduling.reservation import Backfill
from aicc.core.scheduling.windows import blocker

Held = tuple[str, float, Mapping[str, int]]
"""A standing reservation as preemption reads it: flavor, start, and per reserved node the units a job still
running at the start may take there."""


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
        """Borrowed jobs on ``flavor`` that may be preempted now, in the order a gang wider than a node takes
        them (lowest priority, newest first; a one-node gang chooses by node, see :meth:`_hole_victims`), their
        units, and the units already being freed there. Kept for the cycle until the running set or the
        preempting set changes."""
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

    def _coming_nodes(self, flavor: str) -> dict[str, int]:
        """Per node of ``flavor``: the units victims in their grace period will free."""
        running, out = self.running, dict[str, int]()
        for vid in self.preempting:
            r = running.get(vid)
            if r is not None and r.flavor == flavor:
                for p in r.placements:
                    out[p.node] = out.get(p.node, 0) + len(p.devices)
        return out

    def _cap(self, job: PendingJob, flavor: str, reservation: Held | None) -> dict[str, int] | None:
        """The reservation's nodes with what ``job`` may take there, when it would still run at its start."""
        if reservation is None or flavor != reservation[0] or self._now + job.time_limit_s <= reservation[1]:
            return None
        return dict(reservation[2])

    def _preempt_for(self, job: PendingJob, flavors: list[str], reservation: Held | None = None) -> list[int] | None:
        """Victims that make room for ``job`` on one of ``flavors``; [] if enough is already being freed.

        None when preemption cannot help: no set of borrowed jobs of other projects, past their exemption,
        would give it a place of its shape (on one node, or the fewest nodes a wider gang needs). With a
        ``reservation`` (flavor, start, nodes with their spare units), a job still running at its start takes
        no victims on its nodes: the hole would be one it may not use.
        """
        quick = not (self.explain or self.preempting) and self.config.preempt_worth > 0
        for flavor in flavors:
            units = self._units(job, flavor)
            pool = self.pools[flavor]
            self._preempt_flavor = flavor
            if flavor in self.windows.by_flavor and self._kept_off(job, flavor, units):
                continue
            cap = self._cap(job, flavor, reservation)
            key = (self._changes, job.project, flavor, units, cap is None)
            if key in self._no_victims:
                continue  # nothing changed since the same search for the same shape found none
            if quick and self._hopeless(job, flavor, units, None):
                self._no_victims.add(key)
                continue
            candidates, total, coming = self._victims(flavor)
            if quick and candidates and self._hopeless(job, flavor, units, candidates):
                self._no_victims.add(key)
                continue
            if units <= pool.per_node_max and not pool.flavor.cpu:
                hole = self._hole_victims(job, flavor, units, candidates, cap)
                if hole is None or (hole and not self._worth(job, flavor, units, hole)):
                    self._no_victims.add(key)
                    continue
                if hole:
                    self._commit(hole)
                return hole
            if not pool.flavor.cpu:
                others = [v for v in candidates if v.project != job.project]
                chosen = victims.choose(pool, units, others, self._coming_nodes(flavor), self._now, cap,
                                        self.config.preempt_grace_s)
                if chosen is None or (chosen and not self._worth(job, flavor, units, chosen)):
                    self._no_victims.add(key)
                    continue
                if chosen:
                    self._commit(chosen)
                return chosen
            if pool.free + coming >= units:
                if coming:
                    return []
                continue
            if pool.free + coming + total < units:
                continue  # not enough borrowed capacity there even with every candidate
            picked: list[int] = []
            freed = pool.free + coming
            for victim in candidates:
                if victim.project == job.project:
                    continue
                picked.append(victim.id)
                freed += victim.units
                if freed >= units:
                    self._commit(picked)
                    return picked
        return None

    def _why_no_preemption(self, job: PendingJob, flavors: list[str], reservation: Held | None = None) -> Reason:
        """Why preempting cannot give ``job`` (within its nominal quota) a place now, exactly: the victims would
        lose more than it gains (refused this cycle, with the figures), borrowed jobs that would make room are in
        their exemption until a time still to come, or no set of borrowed jobs of other projects, on nodes it
        may use, could ever give it its shape (the rest runs within quotas)."""
        for flavor in flavors:
            refused = self._refused.get((job.project, flavor, self._units(job, flavor)))
            if refused is not None and refused[2] > self._now:
                return reasons.preempt_costly(flavor, self._units(job, flavor), *refused)
        after = self.config.preempt_after_s
        best: tuple[float, str, int] | None = None
        for flavor in flavors:
            pool, units = self.pools[flavor], self._units(job, flavor)
            if pool.flavor.cpu:
                continue
            borrowed = [r for r in map(self.running.__getitem__, self._borrowing)
                        if r.flavor == flavor and r.project != job.project]
            at = victims.release_time(pool, units, borrowed, self._coming_nodes(flavor), after,
                                      self._cap(job, flavor, reservation))
            if at is not None and at > self._now and (best is None or at < best[0]):
                best = (at, flavor, units)
        if best is not None:
            return reasons.preempt_exempt(best[1], best[2], best[0], after)
        f = flavors[0]
        return reasons.preempt_no_borrowed(f, self._units(job, f))

    def _urgency(self, job: PendingJob) -> float:
        """``preempt_worth`` x (1 + the job's wait so far / ``age_after_s``): the longer it has waited, the more
        work its preemption may cost others (at ``age_after_s``, twice as much; at twice that, three times)."""
        worth, age = self.config.preempt_worth, self.config.age_after_s
        return worth * (1 + max(self._now - job.submit_time, 0.0) / age) if age > 0 else worth

    def _hopeless(self, job: PendingJob, flavor: str, units: int, candidates: list[RunningJob] | None) -> bool:
        """No set of victims can be worth it, by a bound (decisions only, when no reason is wanted and no victim
        is leaving): they must free at least the units it lacks beyond what is free, each at no less than the
        least work per unit a candidate loses (``candidates``: theirs; None: what any loses, the grace period
        and, when no borrowed job checkpoints, its exemption). A job refused this way would be refused after
        the search too; this keeps a job that waits for its shape from searching for victims every cycle."""
        found = self._earliest(self.pools[flavor], flavor, units, self._now)
        if found is None or self._reclaims_window(job, flavor):
            return False
        grace = self.config.preempt_grace_s
        if candidates is None:
            per_unit = grace + (0.0 if self._checkpointing else self.config.preempt_after_s)
        else:
            hit = self._min_loss.get(flavor)
            if hit is None or hit[0] is not candidates:
                now = self._now
                hit = self._min_loss[flavor] = (candidates, min(victims.lost(v, now, grace) / max(v.units, 1)
                                                                for v in candidates))
            per_unit = hit[1]
        pool = self.pools[flavor]
        lacking = max(units - (pool.top if units <= pool.per_node_max and not pool.flavor.cpu else pool.free), 1)
        gain = units * max(found[0] - self._now - grace, 0.0)
        return lacking * per_unit > self._urgency(job) * gain

    def _worth(self, job: PendingJob, flavor: str, units: int, chosen: list[int]) -> bool:
        """Whether preempting ``chosen`` for ``job`` gains more than it destroys: the victims' lost work
        (:func:`victims.lost`) against the job's units x the time until a place of its shape frees by itself
        (from running jobs' time limits), weighted by ``preempt_worth`` x (1 + its wait so far / ``age_after_s``)
        so that the longer a job has waited, the more work it may cost others. A refusal is remembered for the
        cycle, with its figures, for the job's reason: it waits (and, first in line, holds the reservation while
        the nodes drain). Deterministic: time limits, start times and checkpoint intervals only."""
        worth = self.config.preempt_worth
        if worth <= 0 or self._reclaims_window(job, flavor):
            return True
        now, grace, running = self._now, self.config.preempt_grace_s, self.running
        cost = sum(victims.lost(running[v], now, grace) for v in chosen)
        found = self._earliest(self.pools[flavor], flavor, units, now)
        if found is None:
            return True  # it never fits by itself: preemption is its only way in
        gain = units * max(found[0] - now - grace, 0.0)
        if cost <= self._urgency(job) * gain:
            return True
        self._refused[(job.project, flavor, units)] = (cost, gain, found[0])
        return False

    def _kept_off(self, job: PendingJob, flavor: str, units: int) -> bool:
        """A reserved window that starts while ``job`` would run keeps it off whatever is preempted: the runs no
        preemption can stop (not borrowed) still running at its start leave too little beside it. Preempting for
        it would free units it may not take, and its victims, admitted again, would be preempted again next
        cycle. Only on a flavor with windows; a window in force now is left to the cycle (it may lend)."""
        ends, running = self._ends[flavor], self.running

        def past(t: float) -> tuple[int, dict[int, int]]:
            total, per = 0, dict[int, int]()
            for _, rid in ends[bisect.bisect_right(ends, (t, math.inf)):]:
                r = running.get(rid)
                if r is not None and not r.borrowed:
                    total += r.units
                    per[r.project] = per.get(r.project, 0) + r.units
            return total, per

        return blocker(self.windows, job.project, flavor, units, self._now, self._now + job.time_limit_s,
                       total=self.pools[flavor].total, past=past, coming_only=True) is not None

    def _reclaims_window(self, job: PendingJob, flavor: str) -> bool:
        """A member of a reserved window in force takes back the window's units: what runs there was lent to
        others as preemptible, so the class's promise is kept without weighing their lost work."""
        return self._extra.get(job.project, {}).get(flavor, 0) > 0

    def _commit(self, chosen: list[int]) -> None:
        self._changes += 1
        self.preempting.update(chosen)
        self._borrowing.difference_update(chosen)
        self._victim_cache.clear()
        self._can_preempt = self._preemptable()

    def _hole_victims(self, job: PendingJob, flavor: str, units: int, candidates: list[RunningJob],
                      cap: Mapping[str, int] | None = None) -> list[int] | None:
        """Victims that open a hole of ``job``'s shape (``units`` on one node), at the least cost: on each node,
        borrowed jobs of other projects by the work they would lose (:func:`victims.lost`), then priority, then
        newest; the node whose
        set costs least. [] when victims already leaving one node make it (wait for them); None when no set
        of victims can (the free units are scattered and no node holds enough borrowed capacity).

        Capacity scattered over nodes is what a project within its quota meets on a busy center: counting
        units would find "enough free" and never preempt, while no node could hold the job."""
        pool, running, now = self.pools[flavor], self.running, self._now
        coming: dict[str, int] = {}
        for vid in self.preempting:
            r = running.get(vid)
            if r is not None and r.flavor == flavor:
                for p in r.placements:
                    coming[p.node] = coming.get(p.node, 0) + len(p.devices)
        for name, n in coming.items():
            node = pool.nodes.get(name)
            if node is not None and node.info.available and \
                    min(len(node.devices) + n, cap.get(name, units) if cap else units) >= units:
                return []
        per_node: dict[str, list[tuple[float, int, float, int, int]]] = {}
        grace = self.config.preempt_grace_s
        for v in candidates:
            if v.project == job.project:
                continue
            lost = victims.lost(v, now, grace)
            for p in v.placements:
                per_node.setdefault(p.node, []).append((lost, v.priority, -v.start_time, -v.id, len(p.devices)))
        best: tuple[float, int, list[int]] | None = None
        for name, on_node in per_node.items():
            node = pool.nodes.get(name)
            if node is None or not node.info.available or (cap and name in cap):
                continue  # a reserved node: the hole would be one this job may not use
            freed = len(node.devices) + coming.get(name, 0)
            if freed + sum(v[4] for v in on_node) < units:
                continue
            cost, chosen = 0.0, []
            for lost, _, _, neg_id, n in sorted(on_node):
                chosen.append(-neg_id)
                cost += lost
                freed += n
                if freed >= units:
                    break
            if best is None or (cost, len(chosen)) < best[:2]:
                best = (cost, len(chosen), chosen)
        return None if best is None else best[2]

