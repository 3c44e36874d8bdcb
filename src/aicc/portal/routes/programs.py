"""Support programs on the portal: calls, applications (과제), reviews, decisions, agreements (협약), reports.

Every read and every change goes through the same services as the API
(``services.programs``, ``applications``, ``reviews``, ``agreements``,
``program_reports``), so who may see or do what is decided there: another
organization's application is *not found* here exactly as it is there. A refused
change comes back on the page it was asked from, in the user's language.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Query
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.core import programs as rules
from aicc.core.errors import InvalidInput, NotFound
from aicc.core.tenancy import OrgKind
from aicc.portal.forms import attempt, checked, notice
from aicc.portal.i18n import N_
from aicc.portal.routing import Member, PortalRoute
from aicc.portal.tables import sort_page
from aicc.portal.view import View
from aicc.services import (
    agreements,
    applications,
    inventory,
    organizations,
    program_reports,
    programs,
    projects,
    reviews,
)
from aicc.services.paging import Page
from aicc.store.models import AgreementRow, ApplicationRow, CallRow, OutcomeRow, utcnow

router = APIRouter(route_class=PortalRoute)
Csrf = Annotated[str, Form(max_length=100)]
Text = Annotated[str, Form(max_length=20_000)]
Short = Annotated[str, Form(max_length=200)]
LIMIT = 1000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

NOTICES = {
    "created": N_("Draft saved. Check it, then submit it before the call closes."),
    "saved": "Saved.",
    "attached": N_("File attached."),
    "submitted": N_("Application submitted. Reviewers score it after assignment."),
    "withdrawn": N_("Application withdrawn. Edit it or submit it again before the call closes."),
    "decided": N_("Decision recorded; the applicant sees it with its reason."),
    "accepted": N_("Agreement accepted: the project's allocation now exists."),
    "declined": N_("Agreement declined."),
    "outcome": N_("Outcome report received. Thank you."),
    "scored": N_("Scores submitted. The other reviewers' scores are shown below, without names."),
    "conflict": N_("Conflict of interest recorded; the application leaves your list."),
    "assigned": N_("Reviewers assigned."),
    "closed": N_("The call is closed; decisions may follow."),
    "call": N_("Call created."),
    "program": N_("Program created. Add its first call below."),
    "reclaim": N_("Reclaim proposal decided."),
    "auto": N_("Auto-award done."),
}






def _local(view: View, value: str, what: str) -> dt.datetime:
    """A date (or date and time) typed in the center's time zone."""
    value = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{what}: give a date like 2027-03-01") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=view.f.tz)
    return parsed.astimezone(dt.UTC)


def _amounts(form: dict[str, str], prefix: str, *, integer: bool = False) -> dict[str, Any]:
    """``su_h100=1200`` fields of a form into ``{"h100": 1200.0}``; blank and zero fields are left out."""
    out: dict[str, Any] = {}
    for key, raw in form.items():
        if key.startswith(prefix) and raw.strip():
            try:
                value = int(raw) if integer else float(raw)
            except ValueError:
                raise InvalidInput(f"{key[len(prefix):]}: {raw!r} is not a number") from None
            if value:
                out[key[len(prefix):]] = value
    return out


def _team(text: str) -> list[dict[str, str]]:
    """One member per line, "name, role"."""
    out = []
    for line in text.splitlines():
        if line.strip():
            name, _, role = line.partition(",")
            out.append({"name": name.strip()[:100], "role": role.strip()[:100]})
    return out[:50]


T = TypeVar("T")
MOST = 20_000
"""Rows a page sorts in memory at most (a center has hundreds of applications a round, not tens of thousands)."""


def _every(fetch: Callable[[int | None], Page[T]]) -> list[T]:
    """All rows of a cursor-paged service list, page after page."""
    out: list[T] = []
    after: int | None = None
    while True:
        got = fetch(after)
        out += got.items
        if got.next_after is None or len(out) >= MOST:
            return out
        after = got.next_after


def _call_state(c: CallRow, now: dt.datetime) -> str:
    return "upcoming" if now < c.opens_at else "accepting" if now < c.closes_at else "closed"


def _org_names(s: Session, view: View) -> dict[int, str]:
    return {o.id: o.display_name or o.name
            for o in _every(lambda after: organizations.list_orgs(s, view.principal, after=after, limit=LIMIT))}


def _agreement_of(s: Session, view: View, application_id: int) -> AgreementRow | None:
    q = select(AgreementRow).where(AgreementRow.application_id == application_id,
                                   agreements.visible(view.principal))
    return s.execute(q).scalar_one_or_none()


# -- the hub ------------------------------------------------------------------------------------------

@router.get("/programs")
def hub(view: Member, done: str = "") -> Response:
    return render_hub(view, notice=notice(view, NOTICES, done))


def render_hub(view: View, *, status: int = 200, error: str | None = None, notice: str | None = None,
               values: dict[str, str] | None = None) -> Response:
    p = view.principal
    now = utcnow()
    with view.db.read() as s:
        progs = _every(lambda after: programs.list_programs(s, p, after=after, limit=LIMIT))
        names = {v.row.id: v.row.title for v in progs}
        calls = _every(lambda after: programs.list_calls(s, p, program_id=None, after=after, limit=LIMIT))
        call_names = {c.id: c.title for c in calls}
        apps = _every(lambda after: applications.list_applications(s, p, after=after, limit=LIMIT))
        if not p.is_center_admin and p.is_reviewer:  # reviewers find theirs under "My reviews"
            apps = [a for a in apps if applications.is_applicant(p, a)]
        deals = _every(lambda after: agreements.list_agreements(s, p, after=after, limit=LIMIT))
        orgs = _org_names(s, view)
        mine = reviews.my_reviews(s, p) if p.is_reviewer else []
        reclaims = agreements.list_reclaims(s, p, state=rules.ReclaimState.PROPOSED) if p.is_center_admin else []
        open_calls = [c for c in calls if _call_state(c, now) == "accepting"]
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
                           reclaims=reclaims, admins=admins, now=now, call_state=_call_state, flavors=flavors,
                           error=error, notice=notice, v={"name": "", "title": "", "description": "",
                                                          **(values or {})})


@router.post("/programs")
async def create_program(view: Member) -> Response:
    """A program and its budget per flavor (``su_<flavor>`` fields); its calls are created on its page."""
    form = await _form(view)
    made: list[int] = []

    def change(s: Session) -> None:
        made.append(programs.create_program(
            s, view.principal, name=form.get("name", "").strip(), title=form.get("title", "").strip()[:200],
            description=form.get("description", "")[:5000], budget_su=_amounts(form, "su_")).row.id)

    response = attempt(view, change, lambda st, e: render_hub(view, status=st, error=e, values=form), "")
    if made:
        return RedirectResponse(f"/programs/{made[0]}?done=program", status_code=303)
    return response


# -- programs and calls -------------------------------------------------------------------------------

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
    return view.render("program.html", status=status, prog=prog, calls=calls, now=now, call_state=_call_state,
                       error=error, notice=notice, v=v, tracks=[t.value for t in rules.Track],
                       kinds=[k.value for k in OrgKind], sections=program_reports.SECTIONS)


def _rubric(text: str) -> list[rules.Criterion]:
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = [x.strip() for x in line.split(";")]
        if len(parts) != 3:
            raise InvalidInput(f"rubric line {line.strip()!r}: write name; weight; maximum score")
        try:
            out.append(rules.Criterion(parts[0], float(parts[1]), float(parts[2])))
        except ValueError:
            raise InvalidInput(f"rubric line {line.strip()!r}: weight and maximum score are numbers") from None
    return out


def _opt_float(raw: str, what: str) -> float | None:
    if not raw.strip():
        return None
    try:
        return float(raw)
    except ValueError:
        raise InvalidInput(f"{what}: {raw!r} is not a number") from None


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
            opens_at=_local(view, opens_at, "opens"), closes_at=_local(view, closes_at, "closes"),
            tracks=track_list, eligible_kinds=kind_list,
            eligible_regions=[r.strip() for r in regions.split(",") if r.strip()],
            cap_su=_opt_float(cap_su, "cap"), rubric_=_rubric(rubric), reviewers_per_application=reviewers,
            auto_award_threshold=_opt_float(threshold, "threshold"),
            cost_share=_opt_float(cost_share, "cost share") or 0.0, su_price_krw=_opt_float(price, "price"),
            borrowing_ratio=_opt_float(borrowing, "borrowing") or 0.0)
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
        orgs = _org_names(s, view) if p.is_center_admin else {}
        left = programs.call_remaining(s, call)
    ranked = sort_page(view.request, ranking, {
        "rank": lambda r: r.rank, "mean": lambda r: r.mean, "spread": lambda r: r.spread,
        "reviews": lambda r: r.reviews, "state": lambda r: r.application.state,
        "organization": lambda r: orgs.get(r.organization_id, "")}, default="rank", descending=False)
    today = now.astimezone(view.f.tz).date()
    v = {"starts_at": today.isoformat(), "ends_at": (today + dt.timedelta(days=90)).isoformat(), "title": "",
         "plan": "", "expected_outcomes": "", "team": "", "track": call.tracks[0], **(values or {})}
    return view.render("call.html", status=status, call=call, prog=prog, flavors=flavors, projects=mine,
                       ranking=ranked, orgs=orgs, left=left, state=_call_state(call, now), error=error,
                       notice=notice, v=v)


def _draft_fields(view: View, form: dict[str, str], default_track: str) -> dict[str, Any]:
    try:
        track = rules.Track(form.get("track") or default_track)
    except ValueError:
        raise InvalidInput(f"track {form.get('track')!r} is not one of this call's tracks") from None
    return {"track": track, "title": form.get("title", "").strip()[:200] or "(untitled)",
            "plan": form.get("plan", "")[:20_000], "expected_outcomes": form.get("expected_outcomes", "")[:20_000],
            "team": _team(form.get("team", "")), "requested_su": _amounts(form, "su_"),
            "requested_accelerators": _amounts(form, "acc_", integer=True),
            "starts_at": _local(view, form.get("starts_at", ""), "start"),
            "ends_at": _local(view, form.get("ends_at", ""), "end"), "youth": form.get("youth") == "on"}


async def _form(view: View) -> dict[str, str]:
    """The posted form's text fields, once its CSRF token is checked."""
    form = {k: v for k, v in (await view.request.form()).items() if isinstance(v, str)}
    checked(view, form.get("csrf", ""))
    return form


@router.post("/calls/{call_id}/applications")
async def apply(view: Member, call_id: int) -> Response:
    """A draft for one of the organization's projects: nothing is checked against eligibility until submitted."""
    form = await _form(view)
    made: list[int] = []

    def change(s: Session) -> None:
        call = programs.get_call(s, view.principal, call_id)
        try:
            project_id = int(form.get("project_id", "0"))
        except ValueError:
            raise InvalidInput("choose a project") from None
        a = applications.create(s, view.principal, call_id=call.id, project_id=project_id,
                                **_draft_fields(view, form, call.tracks[0]))
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


# -- applications -------------------------------------------------------------------------------------

@router.get("/applications/{application_id}")
def application_page(view: Member, application_id: int, done: str = "") -> Response:
    return render_application(view, application_id, notice=notice(view, NOTICES, done))


def render_application(view: View, application_id: int, *, status: int = 200, error: str | None = None,
                       notice: str | None = None) -> Response:
    p = view.principal
    now = utcnow()
    with view.db.read() as s:
        a = applications.get(s, p, application_id)
        call = programs.get_call(s, p, a.call_id)
        prog = programs.get_program(s, p, call.program_id)
        project = projects.get(s, p, a.project_id) if p.sees_project(a.project_id, a.organization_id) else None
        shown = reviews.reviews_of(s, p, a.id)
        deal = _agreement_of(s, view, a.id)
        history = agreements.amendments(s, p, deal.id) if deal else []
        outcomes = list(s.execute(select(OutcomeRow).where(OutcomeRow.agreement_id == deal.id)
                                  .order_by(OutcomeRow.id)).scalars()) if deal else []
        attachments = applications.list_attachments(s, p, a.id)
    editable = a.state in (rules.ApplicationState.DRAFT.value, rules.ApplicationState.WITHDRAWN.value)
    admin = p.is_org_admin(a.organization_id)
    state = _call_state(call, now)
    v: dict[str, Any] = {"title": a.title, "track": a.track, "starts_at": view.f.local_date(a.starts_at),
                         "ends_at": view.f.local_date(a.ends_at), "plan": a.plan,
                         "expected_outcomes": a.expected_outcomes, "youth": a.youth,
                         "team": "\n".join(f"{m.get('name', '')}, {m.get('role', '')}" for m in a.team)}
    v |= {f"su_{fl}": su for fl, su in a.requested_su.items()}
    v |= {f"acc_{fl}": n for fl, n in a.requested_accelerators.items()}
    return view.render(
        "application.html", status=status, a=a, call=call, prog=prog, project=project, reviews=shown, deal=deal,
        history=history, outcomes=outcomes, attachments=attachments, flavors=sorted(prog.row.budget_su),
        can_edit=editable and admin and state == "accepting",
        can_submit=editable and admin and state == "accepting",
        can_withdraw=a.state == rules.ApplicationState.SUBMITTED.value and admin and state == "accepting"
        and not p.is_center_admin,
        can_decide=p.is_center_admin and a.state == rules.ApplicationState.SUBMITTED.value,
        can_accept=deal is not None and deal.state == rules.AgreementState.OFFERED.value and admin,
        can_report=deal is not None and deal.state == rules.AgreementState.ACCEPTED.value
        and (admin or a.project_id in p.projects),
        tracks=call.tracks, call_state=state, v=v, outcome_template=view._(
            "What the SU produced (replace the dashes):\n- Papers (title, venue): -\n- Models or products released: -\n"
            "- Patents filed: -\n- People hired: -\n- Follow-on funding (source, amount): -\n- What did not work: -"),
        error=error, notice=notice)


@router.post("/applications/{application_id}")
async def edit_application(view: Member, application_id: int) -> Response:
    """The draft's fields; requested SU and accelerators come as ``su_<flavor>`` and ``acc_<flavor>``."""
    form = await _form(view)

    def change(s: Session) -> None:
        a = applications.get(s, view.principal, application_id)
        try:
            version = int(form.get("version", "0"))
        except ValueError:
            raise InvalidInput("version is a number") from None
        applications.update(s, view.principal, application_id, version=version,
                            changes=_draft_fields(view, form, a.track))

    return attempt(view, change, lambda st, e: render_application(view, application_id, status=st, error=e),
                    f"/applications/{application_id}?done=saved")


@router.post("/applications/{application_id}/attachments")
async def add_attachment(view: Member, application_id: int) -> Response:
    """One file (PDF, image, text, office document, HWP) on a draft; the service checks type, size and content."""
    form = await view.request.form()
    checked(view, str(form.get("csrf", "")))
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return render_application(view, application_id, status=422, error=view._("Choose a file to attach."))
    data = await upload.read(applications.MAX_ATTACHMENT_BYTES + 1)
    return attempt(view, lambda s: applications.add_attachment(
        s, view.principal, application_id, home=view.settings.home, filename=upload.filename or "attachment",
        content_type=upload.content_type or "", data=data),
        lambda st, e: render_application(view, application_id, status=st, error=e),
        f"/applications/{application_id}?done=attached")


@router.get("/applications/{application_id}/attachments/{attachment_id}")
def download_attachment(view: Member, application_id: int, attachment_id: int) -> Response:
    with view.db.read() as s:
        row, data = applications.read_attachment(s, view.principal, application_id, attachment_id,
                                                 view.settings.home)
    ext = applications.ATTACHMENT_TYPES.get(row.content_type, "")
    return Response(data, media_type=row.content_type,
                    headers={"Content-Disposition": f'attachment; filename="attachment-{row.id}{ext}"'})


@router.post("/applications/{application_id}/submit")
def submit_application(view: Member, application_id: int, csrf: Csrf = "") -> Response:
    checked(view, csrf)
    return attempt(view, lambda s: applications.submit(s, view.principal, application_id),
                    lambda st, e: render_application(view, application_id, status=st, error=e),
                    f"/applications/{application_id}?done=submitted")


@router.post("/applications/{application_id}/withdraw")
def withdraw_application(view: Member, application_id: int, csrf: Csrf = "") -> Response:
    checked(view, csrf)
    return attempt(view, lambda s: applications.withdraw(s, view.principal, application_id),
                    lambda st, e: render_application(view, application_id, status=st, error=e),
                    f"/applications/{application_id}?done=withdrawn")


@router.post("/applications/{application_id}/decision")
async def decide(view: Member, application_id: int) -> Response:
    form = await _form(view)
    back = form.get("back", "")
    target = back if back.startswith("/calls/") and back[7:].isdigit() else f"/applications/{application_id}"

    def change(s: Session) -> None:
        try:
            decision = rules.Decision(form.get("decision", ""))
        except ValueError:
            raise InvalidInput("choose award, partial award or reject") from None
        awarded = _amounts(form, "award_") if decision is rules.Decision.PARTIAL else None
        reviews.decide(s, view.principal, application_id, decision=decision,
                       reason=form.get("reason", "")[:5000], awarded_su=awarded)

    return attempt(view, change, lambda st, e: render_application(view, application_id, status=st, error=e),
                    f"{target}?done=decided")


@router.post("/applications/{application_id}/reviewers")
def assign_one(view: Member, application_id: int, csrf: Csrf = "", username: Short = "") -> Response:
    checked(view, csrf)
    return attempt(view, lambda s: reviews.assign(s, view.principal, application_id,
                                                   username=username.strip().lower()),
                    lambda st, e: render_application(view, application_id, status=st, error=e),
                    f"/applications/{application_id}?done=assigned")


# -- agreements ---------------------------------------------------------------------------------------

def _deal_app(view: View, agreement_id: int) -> int:
    with view.db.read() as s:
        return agreements.get(s, view.principal, agreement_id).application_id


@router.post("/agreements/{agreement_id}/accept")
def accept(view: Member, agreement_id: int, csrf: Csrf = "") -> Response:
    checked(view, csrf)
    app_id = _deal_app(view, agreement_id)
    return attempt(view, lambda s: agreements.accept(s, view.principal, agreement_id),
                    lambda st, e: render_application(view, app_id, status=st, error=e),
                    f"/applications/{app_id}?done=accepted")


@router.post("/agreements/{agreement_id}/decline")
def decline(view: Member, agreement_id: int, csrf: Csrf = "") -> Response:
    checked(view, csrf)
    app_id = _deal_app(view, agreement_id)
    return attempt(view, lambda s: agreements.decline(s, view.principal, agreement_id),
                    lambda st, e: render_application(view, app_id, status=st, error=e),
                    f"/applications/{app_id}?done=declined")


@router.post("/agreements/{agreement_id}/outcomes")
def report_outcome(
    view: Member, agreement_id: int, csrf: Csrf = "", publications: Annotated[int, Form(ge=0, le=100_000)] = 0,
    products: Annotated[int, Form(ge=0, le=100_000)] = 0, patents: Annotated[int, Form(ge=0, le=100_000)] = 0,
    hires: Annotated[int, Form(ge=0, le=100_000)] = 0,
    funding: Annotated[float, Form(ge=0, le=1e15)] = 0.0, note: Text = "",
) -> Response:
    checked(view, csrf)
    app_id = _deal_app(view, agreement_id)
    return attempt(view, lambda s: agreements.report_outcome(
        s, view.principal, agreement_id, publications=publications, products=products, patents=patents,
        hires=hires, follow_on_funding_krw=funding, note=note),
        lambda st, e: render_application(view, app_id, status=st, error=e), f"/applications/{app_id}?done=outcome")


# -- reviews (the reviewer's side) --------------------------------------------------------------------

@router.get("/reviews")
def my_reviews(view: Member, done: str = "") -> Response:
    p = view.principal
    with view.db.read() as s:
        rows = reviews.my_reviews(s, p)
        titles: dict[int, str] = {}
        for r in rows:
            try:
                titles[r.id] = applications.get(s, p, r.application_id).title
            except NotFound:  # a declared conflict: the application left this reviewer's view
                titles[r.id] = ""
    table = sort_page(view.request, rows, {"id": lambda r: r.id, "state": lambda r: r.state,
                                           "title": lambda r: titles[r.id], "assigned": lambda r: r.assigned_at},
                      default="id")
    return view.render("reviews.html", rows=table, titles=titles, notice=notice(view, NOTICES, done))


@router.get("/reviews/{review_id}")
def review_page(view: Member, review_id: int, done: str = "") -> Response:
    return render_review(view, review_id, notice=notice(view, NOTICES, done))


def render_review(view: View, review_id: int, *, status: int = 200, error: str | None = None,
                  notice: str | None = None, values: dict[str, str] | None = None) -> Response:
    p = view.principal
    with view.db.read() as s:
        review = next((r for r in reviews.my_reviews(s, p) if r.id == review_id), None)
        if review is None:
            raise NotFound("review not found")
        a = applications.get(s, p, review.application_id) if review.state != "conflict" else None
        call = programs.get_call(s, p, a.call_id) if a else None
        shown = reviews.reviews_of(s, p, a.id) if a else []
    return view.render("review.html", status=status, review=review, a=a, call=call,
                       rubric=programs.rubric(call) if call else [], reviews=shown, error=error, notice=notice,
                       v=values or {})


@router.post("/reviews/{review_id}/scores")
async def submit_scores(view: Member, review_id: int) -> Response:
    form = await _form(view)

    def change(s: Session) -> None:
        scores: dict[str, float] = {}
        for key, raw in form.items():
            if key.startswith("score_") and raw.strip():
                try:
                    scores[key[6:]] = float(raw)
                except ValueError:
                    raise InvalidInput(f"score for {key[6:]!r}: {raw!r} is not a number") from None
        reviews.submit_scores(s, view.principal, review_id, scores=scores, comment=form.get("comment", "")[:10_000])

    return attempt(view, change, lambda st, e: render_review(view, review_id, status=st, error=e, values=form),
                    f"/reviews/{review_id}?done=scored")


@router.post("/reviews/{review_id}/conflict")
def declare_conflict(view: Member, review_id: int, csrf: Csrf = "", reason: Text = "") -> Response:
    checked(view, csrf)
    return attempt(view, lambda s: reviews.declare_conflict(s, view.principal, review_id, reason=reason),
                    lambda st, e: render_review(view, review_id, status=st, error=e), "/reviews?done=conflict")


# -- reclaims and reports (center admins) -------------------------------------------------------------

@router.get("/reclaims")
def reclaims(view: Member, done: str = "") -> Response:
    return render_reclaims(view, notice=notice(view, NOTICES, done))


def render_reclaims(view: View, *, status: int = 200, error: str | None = None, notice: str | None = None
                    ) -> Response:
    p = view.principal
    p.require_center_admin()
    with view.db.read() as s:
        rows = agreements.list_reclaims(s, p)
        deals = {g.id: g for g in _every(lambda after: agreements.list_agreements(s, p, after=after, limit=LIMIT))}
        orgs = _org_names(s, view)
        titles = {a.id: a.title for a in s.execute(select(ApplicationRow)).scalars()}
    table = sort_page(view.request, rows, {"id": lambda r: r.id, "state": lambda r: r.state,
                                           "amount": lambda r: r.amount_su, "created": lambda r: r.created_at},
                      default="id")
    return view.render("reclaims.html", status=status, rows=table, deals=deals, orgs=orgs, titles=titles,
                       error=error, notice=notice)


@router.post("/reclaims/{reclaim_id}/decision")
def decide_reclaim(view: Member, reclaim_id: int, csrf: Csrf = "", approve: Short = "",
                   amount: Short = "") -> Response:
    checked(view, csrf)

    def change(s: Session) -> None:
        if approve == "yes":
            agreements.approve_reclaim(s, view.principal, reclaim_id, amount_su=_opt_float(amount, "amount"))
        else:
            agreements.reject_reclaim(s, view.principal, reclaim_id)

    return attempt(view, change, lambda st, e: render_reclaims(view, status=st, error=e), "/reclaims?done=reclaim")


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
