"""Class hours (center admins): reserve a flavor's capacity for a course or project over recurring windows, see
them, remove one. An overlap on the same capacity is refused with the clash named, as in the API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from aicc.core.errors import DomainError
from aicc.portal.routing import Member, PortalRoute
from aicc.portal.session import check_csrf
from aicc.portal.view import View
from aicc.services import inventory, job_search
from aicc.services import reservations as svc
from aicc.store.models import CourseRow

router = APIRouter(route_class=PortalRoute)
Short = Annotated[str, Form(max_length=64)]


def _page(view: View, status: int = 200, error: str | None = None, values: dict[str, Any] | None = None,
          done: str | None = None) -> Response:
    view.principal.require_center_admin()
    with view.db.read() as s:
        rows = svc.list_(s, view.principal)
        flavors = inventory.flavors(s)
        projects = job_search.visible_projects(s, view.principal)
        courses = list(s.execute(select(CourseRow).order_by(CourseRow.name)).scalars())
    defaults = {"name": "", "flavor": flavors[0].name if flavors else "", "units": 1, "owner": "",
                "first_start": "", "timezone": "Asia/Seoul", "length_min": 180, "count": 8, "every_days": 7}
    return view.render("reservations.html", status=status, rows=rows, flavors=flavors, projects=projects,
                       courses=courses, error=error, v={**defaults, **(values or {})}, done=done)


@router.get("/reservations")
def reservations_page(view: Member, done: str | None = None) -> Response:
    return _page(view, done=done)


@router.post("/reservations")
def create(view: Member, csrf: Annotated[str, Form(max_length=100)] = "", name: Short = "", flavor: Short = "",
           units: Short = "1", owner: Short = "", first_start: Short = "", timezone: Short = "Asia/Seoul",
           length_min: Short = "180", count: Short = "1", every_days: Short = "7") -> Response:
    assert view.me is not None
    check_csrf(view.me.csrf, csrf)
    view.principal.require_center_admin()
    _ = view._
    values: dict[str, Any] = {"name": name, "flavor": flavor, "units": units, "owner": owner,
                              "first_start": first_start, "timezone": timezone, "length_min": length_min,
                              "count": count, "every_days": every_days}
    try:
        n, length, times, every = int(units), int(length_min), int(count), int(every_days)
        first = dt.datetime.strptime(first_start.strip(), "%Y-%m-%dT%H:%M")
        kind, _sep, ref = owner.partition(":")
        owner_id = int(ref)
    except ValueError:
        return _page(view, 422, _("Give whole numbers, a first start as 2027-03-02T14:00 and a course or project."),
                     values)
    if kind not in ("course", "project"):
        return _page(view, 422, _("Choose a course or a project."), values)
    try:
        with view.db.write() as s:
            svc.create(s, view.principal, name=name.strip(), flavor=flavor, units=n, first_local=first,
                       timezone=timezone.strip(), length_min=length, count=times, every_days=every,
                       course_id=owner_id if kind == "course" else None,
                       project_id=owner_id if kind == "project" else None)
    except DomainError as exc:
        return _page(view, 409 if exc.status == 409 else 422, view.refusal(exc.detail or ""), values)
    return RedirectResponse(f"/reservations?done={name.strip()}", status_code=303)


@router.post("/reservations/{reservation_id}/remove")
def remove(view: Member, reservation_id: int, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    assert view.me is not None
    check_csrf(view.me.csrf, csrf)
    with view.db.write() as s:
        svc.remove(s, view.principal, reservation_id)
    return RedirectResponse("/reservations", status_code=303)
