"""The cycle itself: walk the queue in policy order, admit what fits, reserve, preempt, say why the rest waits.

One :class:`Walk` per cycle holds what the cycle has decided so far (admissions, the reservation and the
units it leaves free, the capacity preempting jobs hold, the verdicts computed once per project), so the
steps of a cycle are methods over it rather than closures inside one long function.
"""

from __future__ import annotations

from aicc.core.charging import su
from aicc.core.jobs.reasons import Reason, ReasonCode
from aicc.core.scheduling import reasons
from aicc.core.scheduling.aging import aged_jobs, aged_pass
from aicc.core.scheduling.model import (
    Admission,
    CycleResult,
    Pass,
    PendingJob,
    Placement,
    Reservation,
    RunningJob,
)
from aicc.core.scheduling.preemption import Preemption
from aicc.core.scheduling.state import Key
from aicc.core.scheduling.windows import Verdict, Windows, fence

_NO_USE: dict[str, int] = {}


class Walk:
    """One cycle's decisions so far, over the scheduler's state (which admissions change as they are made)."""

    def __init__(self, s: Cycling, now: float) -> None:
        self.s = s
        self.now = now
        self.res = CycleResult(idle_reason=reasons.IDLE)
        self.budget: dict[int, float] = {}
        """SU left per project this cycle, read when its first job is examined."""
        self.blocked_shapes: set[tuple[object, ...]] = set()
        self.reservation: Reservation | None = None
        self.r_flavor, self.r_start = "", 0.0
        """The reservation's flavor and start, once there is one."""
        self.extra = 0
        """Units on the reserved flavor a job still running at the reservation's start may take (at most)."""
        self.spare: dict[str, int] = {}
        """Per reserved node: the units such a job may still take there."""
        self.fifo_blocked: int | None = None
        self.behind: Reason | None = None
        """The one "behind" text of this cycle (the reservation or the FIFO head)."""
        self.admitted: set[int] = set()
        self.settled: set[int] = set()
        """Decided for this cycle (waiting on its own preemptions)."""
        self.held: dict[str, int] = {}
        """Free units a preempting job keeps for itself until its victims are gone."""
        self.skipped: dict[int, int] = {}
        self.exhausted = False
        self.eligible: dict[int, Reason | None] = {}
        """Per project: the window/suspension verdict, once per cycle."""
        self.rate = {f: fl.su_rate for f, fl in s.flavors.items()}
        self.kind = Pass.ANY
        self.whys: dict[tuple[object, ...], Reason] = {}
        """Per (project, flavors, units, outlasts the reservation): why preemption cannot help, once a cycle."""
        self.lent = False
        """The placement being admitted takes reserved capacity: a borrowed (preemptible) run."""
        self.fenced: Reason | None = None
        """Why the job being placed was refused on some flavor by a reserved window."""

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

    def focused(self) -> bool:
        """A reservation stands and the walk goes on: from here only jobs that could start matter."""
        return self.reservation is not None and not self.exhausted

    def run(self) -> CycleResult:
        s, cfg, res = self.s, self.s.config, self.res
        capacity = s.capacity()
        passes = (Pass.GUARANTEED, Pass.BORROW) if cfg.quotas else (Pass.ANY,)
        pending, plans, pools, eligible, budget = s.pending, s._plans, s.pools, self.eligible, self.budget
        admitted, settled, held, rate, now, reasons_of = self.admitted, self.settled, self.held, self.rate, \
            self.now, res.reasons
        strict = not cfg.backfill
        fenced_flavors = s.windows.by_flavor
        if cfg.age_after_s > 0:
            self.aged()
        for kind in passes:
            if res.capped:
                break
            self.kind = kind
            guaranteed = kind is Pass.GUARANTEED
            self.exhausted = s._exhausted(kind, self.reservation, self.extra)
            walk = self.settle if kind is Pass.BORROW else None
            focus = self.focused if kind is Pass.BORROW and not s.explain and not cfg.max_examined else None
            # one job at a time, inline: this loop is the policy's hot path (a long queue behind a reservation)
            for job_id, room in s._order(kind, capacity, self.skipped, walk, focus):
                if self.exhausted or (cfg.max_examined and res.examined >= cfg.max_examined):
                    break
                if cfg.max_starts and len(admitted) >= cfg.max_starts:
                    res.capped = True
                    break
                if job_id in admitted or job_id in settled or job_id not in pending:
                    continue
                res.examined += 1
                job = pending[job_id]
                project = job.project
                if project in eligible:
                    why = eligible[project]
                else:
                    why = eligible[project] = s._eligible(job, now)
                if why:
                    reasons_of[job_id] = why
                    continue
                if not (guaranteed or job.may_borrow or kind is Pass.ANY):
                    # within nominal quota only: the guaranteed pass was its chance; keep what it found
                    if job_id not in reasons_of:
                        reasons_of[job_id] = s._nominal_reason(job)
                    continue
                plan = plans[job_id]
                fits = plan if kind is Pass.ANY else [fu for fu in plan if fu[1] <= room[fu[0]]]
                if not fits:
                    if not guaranteed:
                        reasons_of[job_id] = s._quota_reason(job, s._flavor_order(job))
                    continue
                left = budget.get(project)
                if left is None:
                    left = budget[project] = s.projects[project].budget_left
                limit, cpus, memory = job.time_limit_s, job.cpus, job.memory_mb
                where = None
                flavor, units = "", 0
                self.fenced = None
                for flavor, units in fits:
                    pool = pools[flavor]
                    if units > pool.free - held.get(flavor, 0) or su(units, limit, rate[flavor]) > left:
                        continue
                    if flavor in fenced_flavors:
                        if not self.window_allows(job, kind, flavor, units):
                            continue
                    elif self.lent:
                        self.lent = False
                    outlasts = flavor == self.r_flavor and now + limit > self.r_start
                    if outlasts and units > self.extra:
                        continue
                    shape = (flavor, units, cpus, memory, outlasts)
                    if shape in self.blocked_shapes:
                        continue
                    # a job still running when the reservation starts keeps off the reserved nodes' needed units
                    where = pool.place(units, cpus, memory, self.spare if outlasts else None)
                    if where is not None:
                        break
                    self.blocked_shapes.add(shape)
                if where is not None:
                    self.admit(job, kind, flavor, units, where)
                    continue
                if self.fenced is not None:  # a reserved window keeps it off: that, not capacity, is why
                    reasons_of[job_id] = self.fenced
                    continue
                if self.reservation is not None and left == float("inf") and not (
                        guaranteed and (s._can_preempt or s._coming([f for f, _ in fits]))):
                    if guaranteed and s.explain and s._borrowing and cfg.preemption:
                        reasons_of[job_id] = self.why(job, [f for f, _ in fits])  # within quota: say why exactly
                        continue
                    if self.behind is None:
                        self.behind = reasons.behind_reservation(self.reservation.job_id)
                    reasons_of[job_id] = self.behind
                    continue
                self.not_placed(job, kind, [f for f, _ in fits], left)
                if self.fifo_blocked is not None and strict:
                    # strict FIFO: nothing behind a blocked head can start, so look no further; the jobs not
                    # examined read the cycle's idle reason
                    res.idle_reason = reasons.behind_fifo(self.fifo_blocked)
                    break
        if self.exhausted and s.explain:
            s._explain_heads(res, self.skipped)
        for project, head in list(self.skipped.items()):
            if head in admitted:  # skipped by a later pass that started at jobs this cycle admitted
                nxt = next((k[2] for k in s._queues.get(project, []) if k[2] not in admitted), None)
                if nxt is None:
                    del self.skipped[project]
                    continue
                head = self.skipped[project] = nxt
            # a project skipped whole: explain it once, when it becomes blocked (reasons are cheap to keep)
            if head not in pending:
                continue
            why = res.reasons.get(head) or s._quota_reason(pending[head], s._flavor_order(pending[head]))
            res.blocked_projects[project] = why  # the planner gives it to the project's newly submitted jobs
            if s._blocked_last.get(project) != head and head not in res.reasons:
                res.reasons[head] = why
        s._blocked_last = self.skipped
        for job_id in admitted:
            res.reasons.pop(job_id, None)
        s._remove_admitted(admitted)  # out of the queues only now: the order generator walks them
        return res

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

    def aged(self) -> None:
        """Jobs that have waited ``age_after_s`` go before fair share, oldest first: each is admitted if it fits,
        preempts if it is within its nominal quota and that helps (and is worth it), and the first that can do
        neither holds the cycle's reservation (see :mod:`~aicc.core.scheduling.aging`). A project with no room
        or not eligible is left at its first aged job."""
        s, now = self.s, self.now
        skip: set[int] = set()
        for job_id in aged_jobs(s, now, skip):
            if self.exhausted or self.reservation is not None or self.res.capped:
                return
            job = s.pending[job_id]
            if self._eligible(job):
                skip.add(job.project)
                continue
            rooms = {Pass.GUARANTEED: s._room(job.project, Pass.GUARANTEED),
                     Pass.BORROW: s._room(job.project, Pass.BORROW)} if s.config.quotas else {}
            found = aged_pass(s, job.project, s._plans[job_id], rooms)
            if found is None:
                skip.add(job.project)
                continue
            kind, fits = found
            left = self._budget_of(job.project)
            self.kind = kind
            self.res.examined += 1
            for flavor, units in fits:
                pool = s.pools[flavor]
                if units > pool.free - self.held.get(flavor, 0) or \
                        su(units, job.time_limit_s, self.rate[flavor]) > left:
                    continue
                self.lent = False
                if flavor in s.windows.by_flavor and not self.window_allows(job, kind, flavor, units):
                    continue
                where = pool.place(units, job.cpus, job.memory_mb)
                if where is not None:
                    self.admit(job, kind, flavor, units, where, aged=True)
                    break
            else:
                self.settled.add(job_id)
                self.not_placed(job, kind, [f for f, _ in fits], left)

    def admit(self, job: PendingJob, kind: Pass, flavor: str, units: int, where: tuple[Placement, ...],
              aged: bool = False) -> None:
        """Apply an admission to the scheduler's state and to this cycle's bookkeeping. An ``aged`` job is never
        borrowed (preemptible) capacity: the center owes it this start, and a preempted aged job would be
        first in line again at once, losing its work each time."""
        s, now, limit = self.s, self.now, job.time_limit_s
        reservation, project = self.reservation, job.project
        if reservation is not None and flavor == reservation.flavor and now + limit > reservation.start:
            self.extra -= units
            cpu = s.flavors[flavor].cpu
            for pl in where:
                if pl.node in self.spare:
                    self.spare[pl.node] -= pl.cpus if cpu else len(pl.devices)
        p = s.projects[project]
        borrowed = self.lent or (not aged and s.config.quotas and s.usage.get(project, _NO_USE).get(flavor, 0) + units >
                                 p.nominal.get(flavor, 0) + s._extra.get(project, _NO_USE).get(flavor, 0))
        self.lent = False
        s.add_running(RunningJob(job.id, project, flavor, where, now, limit, job.priority, borrowed, units,
                                 job.checkpoint_s))
        if s._past is not None:
            s._past.note(flavor, project, units, now + limit)
        self.res.admissions.append(Admission(job.id, flavor, where, borrowed, p.allocation_id))
        if len(where) > 1 and s.pools[flavor].spread:
            self.res.spread.append(job.id)
        self.budget[project] -= su(units, limit, self.rate[flavor])
        self.admitted.add(job.id)
        # out of the demand at once, so the early stops see only what still waits (it leaves the queues at
        # the end of the cycle: the order generator walks them)
        s.demand.remove(job, s._plans[job.id])
        pool = s.pools[flavor]
        smallest = s._smallest[flavor]
        if reservation is None and pool.free > 0 and (
                pool.top >= smallest if smallest <= pool.per_node_max else pool.free >= smallest):
            self.exhausted = False  # the flavor it took still has a hole: what _exhausted would say
        else:
            self.exhausted = s._exhausted(kind, reservation, self.extra)

    def window_allows(self, job: PendingJob, kind: Pass, flavor: str, units: int) -> bool:
        """Reserved windows on ``flavor`` let ``job`` start there now (sets :attr:`lent` when only as a borrowed
        run, :attr:`fenced` with the reason when not at all); see :mod:`~aicc.core.scheduling.windows`."""
        verdict, why = fence(self.s, job, kind, flavor, units, self.now, self.held.get(flavor, 0))
        if verdict is Verdict.NO:
            self.fenced = self.fenced or why
            return False
        self.lent = verdict is Verdict.LEND
        return True

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


class Cycling(Preemption):
    def cycle(self, now: float) -> CycleResult:
        """Admit what fits; the admissions are applied to this state as running jobs."""
        self._now = now
        self._spare = {}
        self._victim_cache.clear()  # the exemption depends on now; and the controller edits ``preempting``
        self._no_victims.clear()
        self._refused.clear()
        self._earliest_memo.clear()
        self._can_preempt = self._preemptable()
        self._past = None
        self._tick_windows(now)
        # the smallest waiting gang per flavor; constant during the cycle (queues change only at its end)
        self._smallest = {f: min(d) for f, d in self.demand.by_flavor.items() if d}
        self._wide = {}  # and the smallest wider than any node of its flavor
        for f, d in self.demand.by_flavor.items():
            widest = self.pools[f].per_node_max
            wide = [u for u in d if u > widest]
            if wide:
                self._wide[f] = min(wide)
        return Walk(self, now).run()

    def _tick_windows(self, now: float) -> None:
        """The windows in force changed since the last cycle: their members' guaranteed headroom with them."""
        if not self.windows and not self._active:
            return
        active = self.windows.active(now)
        if active != self._active:
            for project in {*self._extra, *(p for w in active for p in w.members)}:
                self._touch(project)
            self._active, self._extra = active, Windows.extra_quota(active)

    def _explain_heads(self, res: CycleResult, skipped: dict[int, int]) -> None:
        """The walk stopped early (nothing can start): still tell each project's first waiting job why,
        once, when that job changes: its quota if the project has no room for it, else capacity."""
        for project, q in self._queues.items():
            if not q or project in skipped:
                continue
            head = q[0][2]
            if head in res.reasons or self._head_last.get(project) == head or head not in self.pending:
                continue
            self._head_last[project] = head
            job = self.pending[head]
            order = self._flavor_order(job)
            room = self._room(project, Pass.BORROW if self.config.quotas else Pass.ANY)
            if all((job.cpus if self.flavors[f].cpu else job.accelerators) > room[f] for f in order):
                res.reasons[head] = self._quota_reason(job, order)
            elif order and self.config.quotas and self.config.preemption and self._borrowing and \
                    any(self._units(job, f) <= g for f, g in self._room(project, Pass.GUARANTEED).items()
                        if f in order):
                res.reasons[head] = self._why_no_preemption(job, order)  # within quota: why it still waits
            elif order:
                f = order[0]
                res.reasons[head] = reasons.capacity(tuple(order), self._units(job, f), self.flavors[f].cpu)
