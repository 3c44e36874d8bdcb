"""What the center's dashboards show: use over time, the queue, and allocations that need a look.

Read-only views over the usage ledger and the jobs table. Time buckets are built
in Python from plain (start, end, units) rows so the same code runs on SQLite and
PostgreSQL without date functions that differ between them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicc.core.jobs import JobState
from aicc.services import jobs
from aicc.services.metering import UsageSummary
from aicc.services.principal import Principal
from aicc.store.models import AllocationRow, FlavorRow, JobRow, NodeRow, ProjectRow, UsageRow

DAY = dt.timedelta(days=1)


def _day_start(t: dt.datetime) -> dt.datetime:
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def burndown(s: Session, summaries: Sequence[UsageSummary], now: dt.datetime, *, max_days: int = 120
             ) -> dict[int, list[tuple[dt.datetime, float]]]:
    """Remaining SU at the end of each day since each allocation started (at most ``max_days`` points).

    ``summaries`` come from ``metering.summaries`` and so are already limited to what the caller sees.
    """
    if not summaries:
        return {}
    ids = [u.allocation_id for u in summaries]
    starts = dict(s.execute(select(AllocationRow.id, AllocationRow.starts_at).where(AllocationRow.id.in_(ids))).all())
    first = {a: max(_day_start(t), _day_start(now) - DAY * max_days) for a, t in starts.items()}
    daily: dict[int, dict[dt.datetime, float]] = defaultdict(lambda: defaultdict(float))
    before: dict[int, float] = defaultdict(float)
    q = select(UsageRow.allocation_id, UsageRow.ended_at, UsageRow.su).where(UsageRow.allocation_id.in_(ids))
    for alloc, ended, su in s.execute(q):
        day = _day_start(ended)
        if day < first[alloc]:
            before[alloc] += su
        else:
            daily[alloc][day] += su
    out: dict[int, list[tuple[dt.datetime, float]]] = {}
    for u in summaries:
        remaining = u.budget_su - before[u.allocation_id]
        points = []
        day = first[u.allocation_id]
        while day <= now:
            remaining -= daily[u.allocation_id].get(day, 0.0)
            points.append((min(day + DAY, now), remaining))
            day += DAY
        out[u.allocation_id] = points
    return out


@dataclass(frozen=True, slots=True)
class FlavorUse:
    flavor: str
    capacity: int
    """Accelerators (CPU cores for a CPU flavor) in the inventory now."""
    daily: list[tuple[dt.datetime, float]]
    """(day, fraction of capacity busy)."""


def flavor_utilization(s: Session, actor: Principal, now: dt.datetime, days: int = 14) -> list[FlavorUse]:
    """Busy fraction of each flavor per day over the last ``days`` days, from the usage ledger."""
    actor.require_center_admin()
    flavors = {f.name: f for f in s.execute(select(FlavorRow).where(FlavorRow.retired.is_(False))).scalars()}
    capacity: dict[str, int] = defaultdict(int)
    for n, name in s.execute(select(NodeRow, FlavorRow.name).join(FlavorRow, FlavorRow.id == NodeRow.flavor_id)
                             .where(NodeRow.retired.is_(False))).all():
        capacity[name] += n.cpus if flavors[name].is_cpu else n.accelerators
    since = _day_start(now) - DAY * (days - 1)
    busy: dict[str, list[float]] = {name: [0.0] * days for name in flavors}
    q = (select(UsageRow.flavor, UsageRow.accelerators, UsageRow.cpus, UsageRow.started_at, UsageRow.ended_at)
         .where(UsageRow.ended_at > since))
    for flavor, accels, cpus, start, end in s.execute(q):
        if flavor not in busy:
            continue
        units = cpus if flavors[flavor].is_cpu else accels
        _spread(busy[flavor], since, max(start, since), end, units)
    out = []
    for name in sorted(flavors):
        days_points = []
        for i, used in enumerate(busy[name]):
            day = since + DAY * i
            span = min(DAY, now - day).total_seconds() if day < now else 0.0
            days_points.append((day, used / (capacity[name] * span) if capacity[name] and span > 0 else 0.0))
        out.append(FlavorUse(name, capacity[name], days_points))
    return out


def _spread(buckets: list[float], since: dt.datetime, start: dt.datetime, end: dt.datetime, units: int) -> None:
    """Add unit-seconds of [start, end) to the day buckets it overlaps."""
    i = int((start - since) / DAY)
    while start < end and i < len(buckets):
        bucket_end = since + DAY * (i + 1)
        piece = min(end, bucket_end) - start
        buckets[i] += piece.total_seconds() * units
        start, i = bucket_end, i + 1


@dataclass(slots=True)
class QueueLine:
    project: str
    project_id: int
    pending: int
    accelerators: int
    oldest: dt.datetime | None
    running: int


def queue_by_project(s: Session, actor: Principal) -> list[QueueLine]:
    """Pending and running jobs per visible project, longest queue first."""
    q = (jobs.query(actor).with_only_columns(
        ProjectRow.name, ProjectRow.id, JobRow.state, func.count(JobRow.id), func.sum(JobRow.accelerators),
        func.min(JobRow.submitted_at))
        .where(JobRow.state.in_([JobState.PENDING.value, JobState.RUNNING.value, JobState.ADMITTED.value]))
        .group_by(ProjectRow.name, ProjectRow.id, JobRow.state))
    lines: dict[int, QueueLine] = {}
    for name, pid, state, n, accels, oldest in s.execute(q).all():
        line = lines.setdefault(pid, QueueLine(name, pid, 0, 0, None, 0))
        if state == JobState.PENDING.value:
            line.pending, line.accelerators, line.oldest = int(n), int(accels or 0), _aware(oldest)
        else:
            line.running += int(n)
    return sorted(lines.values(), key=lambda x: (-x.pending, x.project))


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    """Aggregates bypass the UTC column type; SQLite hands back naive (UTC) datetimes."""
    if t is None:
        return None
    if isinstance(t, str):
        t = dt.datetime.fromisoformat(t)
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t


@dataclass(frozen=True, slots=True)
class Health:
    near_exhaustion: list[UsageSummary]
    """Less than 10 % left, or at the last week's rate empty before the window ends."""
    under_used: list[UsageSummary]
    """A quarter or more of the window gone, and less than half the pro-rata share spent."""


def allocation_health(summaries: Iterable[UsageSummary], starts: dict[int, dt.datetime], now: dt.datetime) -> Health:
    near, under = [], []
    for u in summaries:
        if u.ends_at <= now:
            continue
        left = u.remaining_su / u.budget_su if u.budget_su else 0.0
        if left < 0.1 or (u.projected_exhaustion is not None and u.projected_exhaustion < u.ends_at):
            near.append(u)
            continue
        start = starts.get(u.allocation_id, now)
        window = (u.ends_at - start).total_seconds()
        elapsed = (now - start).total_seconds() / window if window > 0 else 0.0
        used = u.used_su / u.budget_su if u.budget_su else 0.0
        if elapsed >= 0.25 and used < elapsed * 0.5:
            under.append(u)
    return Health(near, under)


def allocation_starts(s: Session, ids: list[int]) -> dict[int, dt.datetime]:
    rows = s.execute(select(AllocationRow.id, AllocationRow.starts_at).where(AllocationRow.id.in_(ids))).all()
    return {a: t for a, t in rows}
