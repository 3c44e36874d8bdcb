"""/api/v1/reservations: class hours, a flavor's capacity held for a course or project over recurring windows."""

from __future__ import annotations

import dataclasses
import datetime as dt

from fastapi import APIRouter, Query
from pydantic import Field, model_validator

from aicc.api.deps import DB, Actor
from aicc.api.schemas.common import Ident, Name, Out, Strict
from aicc.api.schemas.jobs import FlavorName
from aicc.services import reservations as svc

router = APIRouter(prefix="/reservations", tags=["reservations"])


class ReservationCreate(Strict):
    name: Name
    flavor: FlavorName
    units: int = Field(ge=1, le=100_000, description="Accelerators held (cores on a CPU flavor).")
    course_id: Ident | None = Field(None, description="For a course: its project's runs use it.")
    course: Name | None = Field(None, description="Or the course by name.")
    project_id: Ident | None = Field(None, description="Or for a project (name exactly one).")
    first_start: dt.datetime = Field(description="The first start in the time zone's wall-clock time, without an "
                                                 "offset: 2027-03-02T14:00.")
    timezone: str = Field("Asia/Seoul", min_length=1, max_length=64, description="IANA name.")
    length_min: int = Field(ge=1, le=7 * 24 * 60, description="Each window's length in minutes (180: 3 h).")
    count: int = Field(1, ge=1, le=520, description="How many windows (8: eight weeks).")
    every_days: int = Field(7, ge=1, le=366, description="Days between starts (7: weekly).")

    @model_validator(mode="after")
    def _one_owner(self) -> ReservationCreate:
        if [self.course_id, self.course, self.project_id].count(None) != 2:
            raise ValueError("name exactly one of course_id, course and project_id")
        if self.first_start.tzinfo is not None:
            raise ValueError("first_start: a local date and time without an offset (timezone says where)")
        return self


class ReservationOut(Out):
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


@router.post("", status_code=201, response_model=ReservationOut,
             responses={409: {"description": "overlaps other reservations on the same capacity (named)"}})
def create_reservation(db: DB, actor: Actor, body: ReservationCreate) -> ReservationOut:
    """Center admins. Refused (409) when, with the reservations already on the flavor at the same time, it would
    hold more than the flavor has; the detail names the clash."""
    with db.write() as s:
        row = svc.create(s, actor, name=body.name, flavor=body.flavor, units=body.units,
                         first_local=body.first_start.replace(second=0, microsecond=0), timezone=body.timezone,
                         length_min=body.length_min, count=body.count, every_days=body.every_days,
                         project_id=body.project_id, course_id=body.course_id, course=body.course)
        view = next(v for v in svc.list_(s, actor, include_past=True) if v.id == row.id)
        return ReservationOut.model_validate(dataclasses.asdict(view))


@router.get("", response_model=list[ReservationOut])
def list_reservations(db: DB, actor: Actor, past: bool = Query(False, description="Also those already over.")
                      ) -> list[ReservationOut]:
    """Center admins see all; others those of the projects they see."""
    with db.read() as s:
        return [ReservationOut.model_validate(dataclasses.asdict(v)) for v in svc.list_(s, actor, include_past=past)]


@router.delete("/{reservation_id}", status_code=204)
def delete_reservation(db: DB, actor: Actor, reservation_id: Ident) -> None:
    """Center admins. Runs already admitted keep running; the capacity is everyone's from the next cycle."""
    with db.write() as s:
        svc.remove(s, actor, reservation_id)
