"""Support programs on the portal: the hub, programs, calls and their reports (applications, agreements and
reviews have their own modules).

Every read and every change goes through the same services as the API
(``services.programs``, ``applications``, ``reviews``, ``agreements``,
``program_reports``), so who may see or do what is decided there: another
organization's application is *not found* here exactly as it is there. A refused
change comes back on the page it was asked from, in the user's language.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from aicc.core import programs as rules
from aicc.core.errors import InvalidInput, NotFound
from aicc.core.tenancy import OrgKind
from aicc.portal.forms import attempt, checked, notice
from aicc.portal.routes.program_forms import (
    LIMIT,
    NOTICES,
    XLSX,
    Csrf,
    Short,
    Text,
    amounts,
    call_state,
    draft_fields,
    every,
    form_fields,
    local_time,
    opt_float,
    org_names,
    rubric_of,
)
from aicc.portal.routing import Member, PortalRoute
from aicc.portal.tables import sort_page
from aicc.portal.view import View
from aicc.services import (
    agreements,
    applications,
    inventory,
    program_reports,
    programs,
    projects,
    reviews,
)
from aicc.store.models import utcnow

router = APIRouter(route_class=PortalRoute)


@router.get("/programs")
def hub(view: Member, done: str = "") -> Response:
    return render_hub(view, notice=notice(view, NOTICES, done))


def render_hub(view: View, *, status: int = 200, error: str | None = None, notice: str | None = None,
               values: dict[str, str] | None = None) -> Response:
    p = view.principal
    now = utcnow()
    with view.db.read() as s:
        progs = every(lambda after: programs.list_programs(s, p, after=after, limit=LIMIT))
        names = {v.row.id: v.row.title for v in progs}
        calls = every(lambda after: programs.list_calls(s, p, program_id=None, after=after, limit=LIMIT))
        call_names = {c.id: c.title for c in calls}
        apps = every(lambda after: applications.list_applications(s, p, after=after, limit=LIMIT))
        if not p.is_center_admin and p.is_reviewer:  # reviewers find theirs under "My reviews"
            apps = [a for a in apps if applications.is_applicant(p, a)]
        deals = every(lambda after: agreements.list_agreements(s, p, after=after, limit=LIMIT))
        orgs = org_names(s, view)
        mine = reviews.my_reviews(s, p) if p.is_reviewer else []
        reclaims = agreements.list_reclaims(s, p, state=rules.ReclaimState.PROPOSED) if p.is_center_admin else []
        open_calls = [c for c in calls if call_state(c, now) == "accepting"]
        deal_table = sort_page(view.request, deals, {
            "id": lambda g: g.id, "state": lambda g: g.state, "starts": lambda g: g.starts_at,
            "organization": lambda g: orgs.get(g.organization_id, "")}, default="id", prefix="g_")
        table = sort_page(view.request, apps, {
            "id": lambda a: a.id, "title": lambda a: a.title, "call": lambda a: call_names.get(a.call_id, ""),
            "state": lambda a: a.state, "submitted": lambda a: a.submitted_at}, default="id", prefix="a_")
        admins = any(p.is_org_admin(o) for o in p.org_roles)
        flavors = [f.name for f in inventory.flavors(s)] if p.is_center_admin else []
        return view.render("programs.html", status=status, programs=progs, calls=calls, open_calls=open_calls,
                           names=names, call_names=call_names, apps=table, deals=deal_table, orgs=orgs, reviews=mine,
                           reclaims=reclaims, admins=admins, now=now, call_state=call_state, flavors=flavors,
                           error=error, notice=notice, v={"name": "", "title": "", "description": "",
                                                          **(values or {})})


@router.post("/programs")
async def create_program(view: Member) -> Response:
    """A program and its budget per flavor (``su_<flavor>`` fields); its calls are created on its page."""
    form = await form_fields(view)
    made: list[int] = []

    def change(s: Session) -> None:
        made.append(programs.create_program(
            s, view.principal, name=form.get("name", "").strip(), title=form.get("title", "").strip()[:200],
            description=form.get("description", "")[:5000], budget_su=amounts(form, "su_")).row.id)

    response = attempt(view, change, lambda st, e: render_hub(view, status=st, error=e, values=form), "")
    if made:
        return RedirectResponse(f"/programs/{made[0]}?done=program", status_code=303)
    return response


@router.get("/programs/{program_id}")
def program_page(view: Member, program_id: int, done: str = "") -> Response:
    return render_program(view, program_id, notice=notice(view, NOTICES, done))


def render_program(view: View, program_id: int, *, status: int = 200, error: str | None = None,
                   notice: str | None = None, values: dict[str, Any] | None = None) -> Response:
    p = view.principal
    now = utcnow()
    with view.db.read() as s:
        prog = programs.get_program(s, p, program_id)
        calls = programs.list_calls(s, p, program_id=prog.row.id, after=None, limit=LIMIT).items
    v = {"name": "", "title": "", "opens_at": view.f.local_input(now), "closes_at": view.f.local_input(
        now + dt.timedelta(days=30)), "tracks": [t.value for t in rules.Track], "kinds": [],
        "regions": "", "cap_su": "", "rubric": "excellence; 2; 10\nfeasibility; 1; 5", "reviewers": 2,
        "threshold": "", "cost_share": "0", "price": "", "borrowing": "0.5", **(values or {})}
    return view.render("program.html", status=status, prog=prog, calls=calls, now=now, call_state=call_state,
                       error=error, notice=notice, v=v, tracks=[t.value for t in rules.Track],
                       kinds=[k.value for k in OrgKind], sections=program_reports.SECTIONS)


@router.post("/programs/{program_id}/calls")
def create_call(
    view: Member, program_id: int, csrf: Csrf = "", name: Short = "", title: Short = "", opens_at: Short = "",
    closes_at: Short = "", tracks: Annotated[list[str], Form(max_length=8)] = [],  # noqa: B006
    kinds: Annotated[list[str], Form(max_length=8)] = [],  # noqa: B006
    regions: Short = "", cap_su: Short = "", rubric: Text = "", reviewers: Annotated[int, Form(ge=1, le=20)] = 2,
    threshold: Short = "", cost_share: Short = "0", price: Short = "", borrowing: Short = "0",
) -> Response:
    checked(view, csrf)
    view.principal.require_center_admin()
    values = {"name": name, "title": title, "opens_at": opens_at, "closes_at": closes_at, "tracks": tracks,
              "kinds": kinds, "regions": regions, "cap_su": cap_su, "rubric": rubric, "reviewers": reviewers,
              "threshold": threshold, "cost_share": cost_share, "price": price, "borrowing": borrowing}
    made: list[int] = []

    def change(s: Session) -> None:
        try:
            track_list = [rules.Track(t) for t in tracks]
            kind_list = [OrgKind(k) for k in kinds]
        except ValueError:
            raise InvalidInput("unknown track or organization kind") from None
        c = programs.create_call(
            s, view.principal, program_id=program_id, name=name.strip(), title=title.strip(),
            opens_at=local_time(view, opens_at, "opens"), closes_at=local_time(view, closes_at, "closes"),
            tracks=track_list, eligible_kinds=kind_list,
            eligible_regions=[r.strip() for r in regions.split(",") if r.strip()],
            cap_su=opt_float(cap_su, "cap"), rubric_=rubric_of(rubric), reviewers_per_application=reviewers,
            auto_award_threshold=opt_float(threshold, "threshold"),
            cost_share=opt_float(cost_share, "cost share") or 0.0, su_price_krw=opt_float(price, "price"),
            borrowing_ratio=opt_float(borrowing, "borrowing") or 0.0)
        made.append(c.id)

    def back(status: int, error: str) -> Response:
        return render_program(view, program_id, status=status, error=error, values=values)

    response = attempt(view, change, back, "")
    if made:
        return RedirectResponse(f"/calls/{made[0]}?done=call", status_code=303)
    return response


@router.get("/calls/{call_id}")
def call_page(view: Member, call_id: int, done: str = "") -> Response:
    return render_call(view, call_id, notice=notice(view, NOTICES, done))


def render_call(view: View, call_id: int, *, status: int = 200, error: str | None = None,
                notice: str | None = None, values: dict[str, str] | None = None) -> Response:
    p = view.principal
    now = utcnow()
    with view.db.read() as s:
        call = programs.get_call(s, p, call_id)
        prog = programs.get_program(s, p, call.program_id)
        flavors = sorted(prog.row.budget_su)
        # projects this user may apply for: those of the organizations they administer
        mine = [pr for pr in projects.list_projects(s, p, after=None, limit=LIMIT, organization_id=None,
                                                    name=None).items
                if p.is_org_admin(pr.organization_id) and (not p.is_center_admin or pr.organization_id in p.org_roles)]
        ranking = reviews.ranking(s, p, call.id) if p.is_center_admin else []
        orgs = org_names(s, view) if p.is_center_admin else {}
        left = programs.call_remaining(s, call)
    ranked = sort_page(view.request, ranking, {
        "rank": lambda r: r.rank, "mean": lambda r: r.mean, "spread": lambda r: r.spread,
        "reviews": lambda r: r.reviews, "state": lambda r: r.application.state,
        "organization": lambda r: orgs.get(r.organization_id, "")}, default="rank", descending=False)
    today = now.astimezone(view.f.tz).date()
    v = {"starts_at": today.isoformat(), "ends_at": (today + dt.timedelta(days=90)).isoformat(), "title": "",
         "plan": "", "expected_outcomes": "", "team": "", "track": call.tracks[0], **(values or {})}
    return view.render("call.html", status=status, call=call, prog=prog, flavors=flavors, projects=mine,
                       ranking=ranked, orgs=orgs, left=left, state=call_state(call, now), error=error,
                       notice=notice, v=v)


@router.post("/calls/{call_id}/applications")
async def apply(view: Member, call_id: int) -> Response:
    """A draft for one of the organization's projects: nothing is checked against eligibility until submitted."""
    form = await form_fields(view)
    made: list[int] = []

    def change(s: Session) -> None:
        call = programs.get_call(s, view.principal, call_id)
        try:
            project_id = int(form.get("project_id", "0"))
        except ValueError:
            raise InvalidInput("choose a project") from None
        a = applications.create(s, view.principal, call_id=call.id, project_id=project_id,
                                **draft_fields(view, form, call.tracks[0]))
        made.append(a.id)

    response = attempt(view, change, lambda st, e: render_call(view, call_id, status=st, error=e, values=form), "")
    if made:
        return RedirectResponse(f"/applications/{made[0]}?done=created", status_code=303)
    return response


@router.post("/calls/{call_id}/assign")
def assign_reviewers(view: Member, call_id: int, csrf: Csrf = "") -> Response:
    checked(view, csrf)
    return attempt(view, lambda s: reviews.assign_round_robin(s, view.principal, call_id),
                    lambda st, e: render_call(view, call_id, status=st, error=e), f"/calls/{call_id}?done=assigned")


@router.post("/calls/{call_id}/close")
def close_call(view: Member, call_id: int, csrf: Csrf = "") -> Response:
    checked(view, csrf)
    return attempt(view, lambda s: programs.close_call(s, view.principal, call_id),
                    lambda st, e: render_call(view, call_id, status=st, error=e), f"/calls/{call_id}?done=closed")


@router.post("/calls/{call_id}/auto-award")
def auto_award(view: Member, call_id: int, csrf: Csrf = "") -> Response:
    checked(view, csrf)
    return attempt(view, lambda s: reviews.auto_award(s, view.principal, call_id),
                    lambda st, e: render_call(view, call_id, status=st, error=e), f"/calls/{call_id}?done=auto")


@router.get("/programs/{program_id}/report.csv")
def report_csv(view: Member, program_id: int, section: Annotated[str, Query(max_length=40)] = "settlement",
               call_id: Annotated[int, Query(ge=0)] = 0) -> Response:
    if section not in program_reports.SECTIONS:
        raise NotFound("report section not found")
    with view.db.read() as s:
        built = program_reports.build(s, view.principal, program_id, call_id=call_id or None)
    return Response("\ufeff" + program_reports.to_csv(built.sections[section]), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{built.program}-{section}.csv"'})


@router.get("/programs/{program_id}/report.xlsx")
def report_xlsx(view: Member, program_id: int, call_id: Annotated[int, Query(ge=0)] = 0) -> Response:
    with view.db.read() as s:
        built = program_reports.build(s, view.principal, program_id, call_id=call_id or None)
    return Response(program_reports.to_xlsx(built), media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{built.program}-report.xlsx"'})
