"""The cycle itself: walk the queue in policy order, admit what fits, reserve, preempt, say why the rest waits.

One :class:`Walk` per cycle holds what the cycle has decided so far (admissions, the reservation and the
units it leaves free, the capacity preempting jobs hold, the verdicts computed once per project), so the
steps of a cycle are methods over it rather than closures inside one long function.
"""

from __future__ import annotations

from aicc.core.charging import su
from aicc.core.jobs.reasons import Reason
from aicc.core.scheduling import reasons
from aicc.core.scheduling.aging import admit_aged
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
from aicc.core.scheduling.verdicts import Verdicts, explain_heads
from aicc.core.scheduling.windows import Verdict, Windows, fence

_NO_USE: dict[str, int] = {}


class Walk(Verdicts):
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
            admit_aged(self)
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
            explain_heads(s, res, self.skipped)
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
