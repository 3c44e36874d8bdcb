"""Reservations for class hours: center admins hold a flavor's capacity for a course or project over windows.

The admission policy honours them (:mod:`aicc.core.scheduling.windows`); the controller reads them with
:func:`windows` whenever a reservation changes (its rows stamp the allocations counter) and at each full cycle.
A reservation that would hold, with the others on the same flavor at the same time, more than the flavor has is
refused (409) with the first clash named. Every change is an audit event.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicc.core import reservations as core
from aicc.core.errors import Conflict, InvalidInput, NotFound
from aicc.core.names import USERNAME_RE
from aicc.core.scheduling.windows import Window
from aicc.services import audit, projects
from aicc.services.principal import Principal
from aicc.store.models import CourseRow, FlavorRow, NodeRow, ProjectRow, ReservationRow, utcnow


@dataclass(frozen=True, slots=True)
class ReservationView:
    id: int
    name: str
    flavor: str
    units: int
    project: str
    project_id: int
    course: str | None
    timezone: str
    first_local: str
    length_min: int
    count: int
    every_days: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    next_start: dt.datetime | None
    """The next occurrence not yet over (its start), or None when all are past."""


def recurrence(r: ReservationRow) -> core.Recurrence:
    return core.Recurrence(r.first_local, r.timezone, r.length_min, r.count, r.every_days)


def _capacity(s: Session, flavor_id: int, cpu: bool) -> int:
    col = NodeRow.cpus if cpu else NodeRow.accelerators
    return int(s.execute(select(func.coalesce(func.sum(col), 0))
                         .where(NodeRow.flavor_id == flavor_id, NodeRow.retired.is_(False))).scalar_one())


def create(s: Session, actor: Principal, *, name: str, flavor: str, units: int, first_local: dt.datetime,
           timezone: str, length_min: int, count: int = 1, every_days: int = 7, project_id: int | None = None,
           course_id: int | None = None, course: str | None = None) -> ReservationRow:
    """Hold ``units`` of ``flavor`` for a course (its project's runs) or a project, over the windows of the
    recurrence. Center admins."""
    actor.require_center_admin()
    if not USERNAME_RE.match(name):
        raise InvalidInput("reservation name: lowercase letters, digits, '_', '.', '-' (at most 32)")
    if units < 1:
        raise InvalidInput("units: at least 1")
    if [project_id, course_id, course].count(None) != 2:
        raise InvalidInput("name exactly one of course or project")
    held_for = None
    if course_id is not None or course is not None:
        held_for = s.get(CourseRow, course_id) if course_id is not None else s.execute(
            select(CourseRow).where(CourseRow.name == course)).scalar_one_or_none()
        if held_for is None:
            raise NotFound("course not found")
        project_id = held_for.project_id
    assert project_id is not None
    project = projects.get(s, actor, project_id)
    fl = s.execute(select(FlavorRow).where(FlavorRow.name == flavor, FlavorRow.retired.is_(False))).scalar_one_or_none()
    if fl is None:
        raise InvalidInput(f"unknown flavor {flavor!r}")
    rec = core.Recurrence(first_local, timezone, length_min, count, every_days)
    core.validate(rec)
    occ = core.occurrences(rec)
    if s.execute(select(ReservationRow.id).where(ReservationRow.name == name)).first():
        raise Conflict(f"reservation {name!r} exists")
    others = [core.Held(o.name, flavor, o.units, core.occurrences(recurrence(o))) for o in s.execute(
        select(ReservationRow).where(ReservationRow.flavor_id == fl.id, ReservationRow.ends_at > occ[0].start,
                                     ReservationRow.starts_at < occ[-1].end)).scalars()]
    why = core.conflict(flavor, units, _capacity(s, fl.id, fl.is_cpu), occ, others)
    if why:
        raise Conflict(f"reservation {name!r} refused: {why}")
    row = ReservationRow(name=name, flavor_id=fl.id, units=units, project_id=project.id,
                         course_id=held_for.id if held_for else None, first_local=first_local, timezone=timezone,
                         length_min=length_min, count=count, every_days=every_days, starts_at=occ[0].start,
                         ends_at=occ[-1].end, created_by=actor.user_id or None)
    s.add(row)
    s.flush()
    audit.record(s, actor, "reservation.create", "reservation", row.id, organization_id=project.organization_id,
                 data={"name": name, "flavor": flavor, "units": units, "project": project.name,
                       "course": held_for.name if held_for else None, "first": first_local.isoformat(),
                       "timezone": timezone, "length_min": length_min, "count": count, "every_days": every_days})
    return row


def _get(s: Session, reservation_id: int) -> ReservationRow:
    row = s.get(ReservationRow, reservation_id)
    if row is None:
        raise NotFound("reservation not found")
    return row


def by_name(s: Session, name: str) -> ReservationRow:
    row = s.execute(select(ReservationRow).where(ReservationRow.name == name)).scalar_one_or_none()
    if row is None:
        raise NotFound("reservation not found")
    return row


def remove(s: Session, actor: Principal, reservation_id: int) -> None:
    """Center admins. Runs admitted on it keep running; from the next cycle the capacity is everyone's."""
    actor.require_center_admin()
    row = _get(s, reservation_id)
    org = s.execute(select(ProjectRow.organization_id).where(ProjectRow.id == row.project_id)).scalar_one()
    audit.record(s, actor, "reservation.delete", "reservation", row.id, organization_id=org,
                 data={"name": row.name})
    s.delete(row)
    s.flush()


def list_(s: Session, actor: Principal, *, include_past: bool = False, now: dt.datetime | None = None
          ) -> list[ReservationView]:
    """Center admins see every reservation; others those of projects they see (their courses' class hours)."""
    now = now or utcnow()
    q = (select(ReservationRow, FlavorRow.name, ProjectRow.name, ProjectRow.organization_id, CourseRow.name)
         .join(FlavorRow, FlavorRow.id == ReservationRow.flavor_id)
         .join(ProjectRow, ProjectRow.id == ReservationRow.project_id)
         .outerjoin(CourseRow, CourseRow.id == ReservationRow.course_id)
         .order_by(ReservationRow.starts_at, ReservationRow.id))
    if not include_past:
        q = q.where(ReservationRow.ends_at > now)
    out = []
    for r, flavor, project, org, course in s.execute(q).all():
        if not actor.sees_project(r.project_id, org):
            continue
        nxt = next((o.start for o in core.occurrences(recurrence(r)) if o.end > now), None)
        out.append(ReservationView(r.id, r.name, flavor, r.units, project, r.project_id, course, r.timezone,
                                   r.first_local.strftime("%Y-%m-%d %H:%M"), r.length_min, r.count, r.every_days,
                                   r.starts_at, r.ends_at, nxt))
    return out


def windows(s: Session, now: dt.datetime) -> list[Window]:
    """Every occurrence not yet over, as the scheduler's windows (the controller's feed)."""
    out = []
    rows = s.execute(select(ReservationRow, FlavorRow.name).join(FlavorRow, FlavorRow.id == ReservationRow.flavor_id)
                     .where(ReservationRow.ends_at > now)).all()
    for r, flavor in rows:
        for o in core.occurrences(recurrence(r)):
            if o.end > now:
                out.append(Window(r.id, flavor, r.units, o.start.timestamp(), o.end.timestamp(),
                                  frozenset({r.project_id}), r.name))
    return out
