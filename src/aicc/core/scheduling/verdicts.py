"""What a cycle says of the jobs it could not start: not enough budget, preempting for it, the EASY
reservation it holds, behind that reservation or a FIFO head, or a project none of whose jobs could be placed.

A mixin of :class:`~aicc.core.scheduling.cycle.Walk` (one per cycle; it holds the attributes declared here),
kept apart from the admitting walk so each module reads as one concern.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aicc.core.jobs.reasons import Reason, ReasonCode
from aicc.core.scheduling import reasons
from aicc.core.scheduling.model import CycleResult, Pass, PendingJob, Reservation
from aicc.core.scheduling.state import Key

if TYPE_CHECKING:
    from aicc.core.scheduling.cycle import Cycling


class Verdicts:
    s: Cycling
    now: float
    res: CycleResult
    kind: Pass
    budget: dict[int, float]
    eligible: dict[int, Reason | None]
    reservation: Reservation | None
    r_flavor: str
    r_start: float
    extra: int
    spare: dict[str, int]
    fifo_blocked: int | None
    behind: Reason | None
    admitted: set[int]
    settled: set[int]
    held: dict[str, int]
    exhausted: bool
    whys: dict[tuple[object, ...], Reason]

    def _budget_of(self, project: int) -> float:
        left = self.budget.get(project)
        if left is None:
            left = self.budget[project] = self.s.projects[project].budget_left
        return left

    def _eligible(self, job: PendingJob) -> Reason | None:
        if job.project in self.eligible:
            return self.eligible[job.project]
        why = self.eligible[job.project] = self.s._eligible(job, self.now)
        return why

    def settle(self, project: int, q: list[Key], i: int, room: dict[str, float]) -> bool:
        """Behind the reservation in the borrowing pass, a project none of whose waiting jobs could be
        placed: give its jobs the reasons the walk would, without trying to place each."""
        s, reservation = self.s, self.reservation
        if self.exhausted or reservation is None or s.config.max_examined or \
                not s._none_placeable(project, room, reservation, self.extra):
            return False
        if not s.explain:
            return True
        res, pending, plans = self.res, s.pending, s._plans
        for key in q[i:]:
            job_id = key[2]
            if job_id in self.admitted or job_id in self.settled or job_id not in pending:
                continue
            res.examined += 1
            job = pending[job_id]
            why = self._eligible(job)
            if why:
                res.reasons[job_id] = why
                continue
            fits = [f for f, units in plans[job_id] if units <= room[f]]
            if not fits:
                res.reasons[job_id] = s._quota_reason(job, s._flavor_order(job))
                continue
            left = self._budget_of(project)
            if left != float("inf"):
                cheapest = min(fits, key=lambda f: s._cost(job, f))
                if s._cost(job, cheapest) > left:
                    res.reasons[job_id] = reasons.budget(job.time_limit_s / 3600, s._cost(job, cheapest), left)
                    continue
            if self.behind is None:
                self.behind = reasons.behind_reservation(reservation.job_id)
            res.reasons[job_id] = self.behind
        return True

    def not_placed(self, job: PendingJob, kind: Pass, flavors: list[str], left: float) -> None:
        """It does not fit now: too little budget, or preempt for it, or reserve for it, or it waits behind."""
        s, res, job_id = self.s, self.res, job.id
        if left != float("inf"):
            cheapest = min(flavors, key=lambda f: s._cost(job, f))
            if s._cost(job, cheapest) > left:
                res.reasons[job_id] = reasons.budget(job.time_limit_s / 3600, s._cost(job, cheapest), left)
                return
        held_res = None if self.reservation is None else (self.r_flavor, self.r_start, self.spare)
        if kind is Pass.GUARANTEED and (s._can_preempt or s._coming(flavors)):
            victims = s._preempt_for(job, flavors, held_res)
            if victims is not None:
                self.settled.add(job_id)
                # keep the free part of its gang: a later, smaller job must not take it meanwhile
                # (it would be preempted next, and capacity would change hands back and forth)
                flavor = s._preempt_flavor
                self.held[flavor] = min(s.pools[flavor].free, self.held.get(flavor, 0) + s._units(job, flavor))
                res.preemptions.extend(victims)
                res.reasons[job_id] = reasons.preempting(victims) if victims else reasons.preemption_in_progress()
                self.exhausted = s._exhausted(kind, self.reservation, self.extra)
                return
        why = None
        if kind is Pass.GUARANTEED and s.explain and s.config.preemption and s._borrowing:
            why = self.why(job, flavors)
        self.blocked(job, flavors, why)

    def why(self, job: PendingJob, flavors: list[str]) -> Reason:
        """Why preemption cannot help this job within its quota now (once per project and shape a cycle)."""
        outlasts = self.reservation is not None and self.now + job.time_limit_s > self.r_start
        key = (job.project, tuple(flavors), job.accelerators, job.cpus, outlasts)
        hit = self.whys.get(key)
        if hit is None:
            held_res = None if self.reservation is None else (self.r_flavor, self.r_start, self.spare)
            hit = self.whys[key] = self.s._why_no_preemption(job, flavors, held_res)
        return hit

    def blocked(self, job: PendingJob, flavors: list[str], why: Reason | None = None) -> None:
        """It cannot start now: the first such job reserves (EASY) or blocks the queue (FIFO); the rest wait.
        ``why``: for a job within its quota, why preemption cannot help (what it reads, with the reservation's
        time when that is the sooner or the only other news)."""
        s, res, job_id = self.s, self.res, job.id
        if self.reservation is None and self.fifo_blocked is None:
            if s.config.backfill:
                reservation, self.extra = s._reserve(job, flavors, self.now)
                self.reservation = res.reservation = reservation
                if reservation is not None:
                    self.r_flavor, self.r_start = reservation.flavor, reservation.start
                    self.spare = s._spare = dict(reservation.spare)
                    res.reasons[job_id] = self._reserved_reason(reservation, why)
                    self.exhausted = s._nothing_fits(self.kind, reservation, self.extra)
                    return
            else:
                self.fifo_blocked = job_id
            res.reasons[job_id] = why or reasons.capacity(tuple(flavors), s._units(job, flavors[0]),
                                                          s.flavors[flavors[0]].cpu)
        elif self.reservation is not None:
            if why is not None:
                res.reasons[job_id] = why
                return
            if self.behind is None:
                self.behind = reasons.behind_reservation(self.reservation.job_id)
            res.reasons[job_id] = self.behind
        else:
            res.reasons[job_id] = reasons.capacity(tuple(flavors), s._units(job, flavors[0]),
                                                   s.flavors[flavors[0]].cpu)


    def _reserved_reason(self, reservation: Reservation, why: Reason | None) -> Reason:
        """The reservation holder's reason: never a past time; for a job within its quota, why preemption does
        not start it sooner (borrowed jobs preemptible before the reservation's start say so instead)."""
        start, flavor, now = reservation.start, reservation.flavor, self.now
        if start <= now or why is None:
            return reasons.reserved(flavor, start, now, held=self.held.get(flavor, 0) > 0)
        at, units = why.params.get("at"), why.params.get("units")
        if why.code is ReasonCode.PREEMPT_EXEMPT and isinstance(at, int | float) and at < start:
            return why
        if why.code is ReasonCode.PREEMPT_COSTLY:
            return why  # the reservation is what it waits for instead; the figures say why
        if why.code is ReasonCode.PREEMPT_NO_BORROWED and isinstance(units, int):
            return reasons.preempt_no_borrowed(str(why.params["flavor"]), units, start)
        return reasons.reserved(flavor, start, now)


def explain_heads(s: Cycling, res: CycleResult, skipped: dict[int, int]) -> None:
    """The walk stopped early (nothing can start): still tell each project's first waiting job why,
    once, when that job changes: its quota if the project has no room for it, else capacity."""
    for project, q in s._queues.items():
        if not q or project in skipped:
            continue
        head = q[0][2]
        if head in res.reasons or s._head_last.get(project) == head or head not in s.pending:
            continue
        s._head_last[project] = head
        job = s.pending[head]
        order = s._flavor_order(job)
        room = s._room(project, Pass.BORROW if s.config.quotas else Pass.ANY)
        if all((job.cpus if s.flavors[f].cpu else job.accelerators) > room[f] for f in order):
            res.reasons[head] = s._quota_reason(job, order)
        elif order and s.config.quotas and s.config.preemption and s._borrowing and \
                any(s._units(job, f) <= g for f, g in s._room(project, Pass.GUARANTEED).items()
                    if f in order):
            res.reasons[head] = s._why_no_preemption(job, order)  # within quota: why it still waits
        elif order:
            f = order[0]
            res.reasons[head] = reasons.capacity(tuple(order), s._units(job, f), s.flavors[f].cpu)
