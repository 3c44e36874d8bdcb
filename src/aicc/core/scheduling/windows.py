"""Reserved windows (class hours): capacity of a flavor held for some projects over a span of time.

An admin reserves ``units`` of a flavor for a course or project from ``start`` to ``end`` (one occurrence of a
recurring reservation, expanded by :mod:`aicc.core.reservations`). The scheduler honours it with three rules,
all decided here so the cycle only asks:

- **During the window** its members (the reservation's projects) get its units as extra guaranteed quota on the
  flavor: they are admitted within it as within nominal quota, and may preempt borrowed work to get it back.
  Others may not take the reserved units the members leave unused, except as **borrowed** (preemptible) runs:
  unused reserved capacity is lent out and taken back when a member needs it.
- **Before the window** a non-member's run that would still be running at its start may start only if it leaves
  the window's units free at that start (counting what runs then), or if it borrows anyway (beyond its nominal
  quota, so preemptible) and its exemption from preemption (``preempt_after_s``) ends by the start: a 16:55
  batch job with an hour's limit does not delay a 17:00 class.
- **Outside** (after, or before for a run that ends in time) the capacity is everyone's.

The check costs nothing on a flavor without windows, and for a run that ends before the next window starts.
Members' runs on the flavor use the reservation first beyond their own nominal quota, which is how "unused" is
counted: ``min(units, max(0, members' use - members' nominal))``.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, NamedTuple

from aicc.core.jobs.reasons import Reason, ReasonCode
from aicc.core.scheduling.model import Pass, PendingJob

if TYPE_CHECKING:
    from aicc.core.scheduling.state import SchedulerState


@dataclass(frozen=True, slots=True)
class Window:
    """One occurrence of a reservation, as the scheduler sees it (Unix seconds)."""

    reservation: int
    flavor: str
    units: int
    start: float
    end: float
    members: frozenset[int]
    """Projects that may use it (a course's project, or the project named)."""
    name: str = ""

    def active(self, now: float) -> bool:
        return self.start <= now < self.end


class Verdict(Enum):
    FREE = "free"
    """Not in the way of any window."""
    LEND = "lend"
    """Only as a borrowed (preemptible) run: it takes reserved capacity."""
    NO = "no"


@dataclass(frozen=True, slots=True)
class RunningUse:
    """What a running job holds, as the window checks read it."""

    project: int
    units: int
    end_by: float


class Past:
    """Per flavor and instant ``t``: the units of runs still running after ``t``, in all and per project. Built
    once a cycle per window start asked about (a walk over the flavor's running jobs), then kept current by the
    cycle's own admissions (:meth:`note`): a long queue checked against a coming window costs one walk, not one
    per job."""

    def __init__(self, runs_of: Callable[[str], Iterable[RunningUse]]) -> None:
        self._runs_of = runs_of
        self._at: dict[tuple[str, float], tuple[list[int], dict[int, int]]] = {}

    def at(self, flavor: str, t: float) -> tuple[int, Mapping[int, int]]:
        hit = self._at.get((flavor, t))
        if hit is None:
            total, per = 0, dict[int, int]()
            for r in self._runs_of(flavor):
                if r.end_by > t:
                    total += r.units
                    per[r.project] = per.get(r.project, 0) + r.units
            hit = self._at[(flavor, t)] = ([total], per)
        return hit[0][0], hit[1]

    def note(self, flavor: str, project: int, units: int, end_by: float) -> None:
        """A run admitted in this cycle."""
        for (f, t), (total, per) in self._at.items():
            if f == flavor and end_by > t:
                total[0] += units
                per[project] = per.get(project, 0) + units


class Windows:
    """The windows the scheduler honours, by flavor, sorted by start; replaced whole by
    :meth:`~aicc.core.scheduling.scheduler.Scheduler.set_windows` (the controller's reservation delta)."""

    def __init__(self, windows: Iterable[Window] = ()) -> None:
        self.all = tuple(sorted(windows, key=lambda w: (w.flavor, w.start, w.reservation)))
        self.by_flavor: dict[str, list[Window]] = {}
        for w in self.all:
            self.by_flavor.setdefault(w.flavor, []).append(w)
        self._starts = {f: [w.start for w in ws] for f, ws in self.by_flavor.items()}
        self._longest = {f: max(w.end - w.start for w in ws) for f, ws in self.by_flavor.items()}

    def __bool__(self) -> bool:
        return bool(self.all)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Windows) and self.all == other.all

    __hash__ = None  # type: ignore[assignment]

    def members(self) -> set[int]:
        return {p for w in self.all for p in w.members}

    def relevant(self, flavor: str, now: float, until: float) -> list[Window]:
        """Windows on ``flavor`` that overlap ``[now, until)``."""
        ws = self.by_flavor.get(flavor)
        if not ws:
            return []
        lo = bisect.bisect_left(self._starts[flavor], now - self._longest[flavor])
        hi = bisect.bisect_left(self._starts[flavor], until)
        return [w for w in ws[lo:hi] if w.end > now]

    def active(self, now: float) -> tuple[Window, ...]:
        """The windows in force at ``now`` (a change of this set is what the scheduler's quota caches follow)."""
        out: list[Window] = []
        for f in self.by_flavor:
            out.extend(w for w in self.relevant(f, now, now + 1e-9) if w.active(now))
        return tuple(out)

    @staticmethod
    def extra_quota(active: Iterable[Window]) -> dict[int, dict[str, int]]:
        """Per member project: the units its windows in force add to its guaranteed quota, per flavor."""
        out: dict[int, dict[str, int]] = {}
        for w in active:
            for p in w.members:
                per = out.setdefault(p, {})
                per[w.flavor] = per.get(w.flavor, 0) + w.units
        return out


def _reserved_use(w: Window, use: Mapping[int, Mapping[str, int]], nominal: Mapping[int, Mapping[str, int]]) -> int:
    """Units of ``w`` its members use now: their use on the flavor beyond their own nominal quota."""
    beyond = sum(max(use.get(p, {}).get(w.flavor, 0) - nominal.get(p, {}).get(w.flavor, 0), 0) for p in w.members)
    return min(w.units, beyond)


def check(windows: Windows, project: int, flavor: str, units: int, now: float, end_by: float, *, free: int,
          total: int, use: Mapping[int, Mapping[str, int]], nominal: Mapping[int, Mapping[str, int]],
          past: Callable[[float], tuple[int, Mapping[int, int]]], borrower: bool, may_lend: bool, exempt_s: float,
          waiting: frozenset[int] | set[int] = frozenset()) -> tuple[Verdict, Window | None]:
    """May ``project`` start a run of ``units`` on ``flavor`` now that holds them until ``end_by``?

    ``free``: the flavor's free units now; ``total``: its units in all; ``use``/``nominal``: units in use and
    nominal quota per project and flavor; ``past(t)``: units of the flavor's runs still running after ``t``, in
    all and per project (asked only when a window starts before ``end_by``); ``borrower``: it is admitted
    beyond its nominal quota anyway (preemptible); ``may_lend``: it may run on lent capacity at all (a job that
    may borrow, preemption on); ``waiting``: projects with runs waiting for the flavor (a window whose members
    wait lends nothing: the class comes first). With the verdict, the window in the way (for the reason)."""
    ws = [w for w in windows.relevant(flavor, now, end_by) if project not in w.members]
    if not ws:
        return Verdict.FREE, None
    verdict, blocking = Verdict.FREE, None
    active = [w for w in ws if w.active(now)]
    if active:
        fenced = sum(w.units - _reserved_use(w, use, nominal) for w in active)
        if units > free - fenced:
            if not may_lend or any(m in waiting for w in active for m in w.members):
                return Verdict.NO, active[0]
            verdict, blocking = Verdict.LEND, active[0]
    upcoming = [w for w in ws if w.start > now]
    for w in upcoming:
        at = w.start
        still, per = past(at)
        then = [x for x in ws if x.active(at)]
        needed = sum(x.units - min(x.units, sum(per.get(p, 0) for p in x.members)) for x in then)
        if total - still - units >= needed:
            continue
        if may_lend and borrower and now + exempt_s <= at:
            verdict, blocking = Verdict.LEND, blocking or w
            continue
        return Verdict.NO, w
    return verdict, blocking


class Blocked(NamedTuple):
    """Why a run cannot start at a given time for the windows (:func:`blocker`)."""

    at: float
    """The instant in the way: the start asked about, or a window start within the run."""
    window: Window
    short: int
    """Units missing at ``at``: runs still running then must free this many before a later start can pass."""
    until: float
    """When the first of the windows in force at ``at`` ends (what they need can fall only then)."""


def blocker(windows: Windows, project: int, flavor: str, units: int, t: float, end_by: float, *, total: int,
            past: Callable[[float], tuple[int, Mapping[int, int]]], coming_only: bool = False
            ) -> Blocked | None:
    """What keeps a run of ``units`` of ``project`` on ``flavor`` over ``[t, end_by)`` off a window, for a blocked
    head's reservation (a start it is promised, so no lending: a lent start depends on who waits then): the
    first instant (``t`` itself, or a window start within the run) at which the windows it is not a member of,
    in force then, need more units than the runs still running then (``past``) and the run leave free; None if
    none is in the way. The same count as :func:`check`'s before-the-window rule, at a future start: the runs
    known now (running, and admitted this cycle) are all that is counted. ``coming_only``: only windows that
    start after ``t`` (those in force at ``t`` may still lend)."""
    ws = [w for w in windows.relevant(flavor, t, end_by) if project not in w.members]
    if not ws:
        return None
    starts = {w.start for w in ws if w.start > t}
    for at in sorted(starts if coming_only else {t, *starts}):
        then = [x for x in ws if x.active(at)]
        if not then:
            continue
        still, per = past(at)
        needed = sum(x.units - min(x.units, sum(per.get(p, 0) for p in x.members)) for x in then)
        short = needed - (total - still - units)
        if short > 0:
            return Blocked(at, next((x for x in then if x.start == at), then[0]), short, min(x.end for x in then))
    return None


def reason(w: Window, now: float) -> Reason:
    """Why a run waits for a window: held now (until its end), or coming (from its start)."""
    if w.active(now):
        return Reason(ReasonCode.WINDOW_HELD, {"flavor": w.flavor, "units": w.units, "name": w.name,
                                               "until": w.end})
    return Reason(ReasonCode.WINDOW_COMING, {"flavor": w.flavor, "units": w.units, "name": w.name, "at": w.start})


def fence(s: SchedulerState, job: PendingJob, kind: Pass, flavor: str, units: int, now: float,
          held: int) -> tuple[Verdict, Reason | None]:
    """:func:`check` for ``job`` in the scheduler's state ``s`` (the cycle's hook): the verdict, and for
    :attr:`Verdict.NO` why it waits. ``held``: free units on the flavor a preempting job keeps."""
    project, cfg, pool = job.project, s.config, s.pools[flavor]
    p = s.projects.get(project)
    nominal_own = (p.nominal.get(flavor, 0) if p else 0) + s._extra.get(project, {}).get(flavor, 0)
    borrower = kind is Pass.BORROW and s.usage.get(project, {}).get(flavor, 0) + units > nominal_own
    members = {m for w in s.windows.by_flavor.get(flavor, ()) for m in w.members}
    nominal = {m: s.projects[m].nominal for m in members if m in s.projects}
    waiting = {m for m in members if s.demand.by_project.get(m, {}).get(flavor)}

    if s._past is None:
        s._past = Past(lambda f: runs_on(s, f))
    cache = s._past

    verdict, w = check(s.windows, project, flavor, units, now, now + job.time_limit_s, free=pool.free - held,
                       total=pool.total, use=s.usage, nominal=nominal, past=lambda t: cache.at(flavor, t),
                       borrower=borrower,
                       may_lend=job.may_borrow and cfg.quotas and cfg.preemption, exempt_s=cfg.preempt_after_s,
                       waiting=waiting)
    return verdict, (reason(w, now) if verdict is Verdict.NO and w is not None else None)


def runs_on(s: SchedulerState, flavor: str) -> Iterator[RunningUse]:
    for end_by, rid in s._ends[flavor]:
        r = s.running.get(rid)
        if r is not None:
            yield RunningUse(r.project, r.units, end_by)
