"""Applications (과제) and agreements (협약) on the portal: drafts, attachments, submission, decisions,
acceptance and outcome reports — each through the same services as the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response
from sqlalchemy.orm import Session

from aicc.core import programs as rules
from aicc.core.errors import InvalidInput
from aicc.portal.forms import attempt, checked, notice
from aicc.portal.routes.program_forms import (
    NOTICES,
    Csrf,
    Short,
    Text,
    amounts,
    call_state,
    draft_fields,
    form_fields,
    gib,
)
from aicc.portal.routing import Member, PortalRoute
from aicc.portal.view import View
from aicc.services import (
    agreements,
    applications,
    programs,
    projects,
    reviews,
)
from aicc.store.models import utcnow

router = APIRouter(route_class=PortalRoute)


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
        deal = agreements.of_application(s, p, a.id)
        history = agreements.amendments(s, p, deal.id) if deal else []
        outcomes = agreements.outcomes(s, p, deal.id) if deal else []
        attachments = applications.list_attachments(s, p, a.id)
    editable = a.state in (rules.ApplicationState.DRAFT.value, rules.ApplicationState.WITHDRAWN.value)
    admin = p.is_org_admin(a.organization_id)
    state = call_state(call, now)
    v: dict[str, Any] = {"title": a.title, "track": a.track, "starts_at": view.f.local_date(a.starts_at),
                         "ends_at": view.f.local_date(a.ends_at), "plan": a.plan,
                         "expected_outcomes": a.expected_outcomes, "youth": a.youth,
                         "team": "\n".join(f"{m.get('name', '')}, {m.get('role', '')}" for m in a.team)}
    v |= {f"su_{fl}": su for fl, su in a.requested_su.items()} | {"requested_storage_gib": a.requested_storage_gib}
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
    form = await form_fields(view)

    def change(s: Session) -> None:
        a = applications.get(s, view.principal, application_id)
        try:
            version = int(form.get("version", "0"))
        except ValueError:
            raise InvalidInput("version is a number") from None
        applications.update(s, view.principal, application_id, version=version,
                            changes=draft_fields(view, form, a.track))

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
    form = await form_fields(view)
    back = form.get("back", "")
    target = back if back.startswith("/calls/") and back[7:].isdigit() else f"/applications/{application_id}"

    def change(s: Session) -> None:
        try:
            decision = rules.Decision(form.get("decision", ""))
        except ValueError:
            raise InvalidInput("choose award, partial award or reject") from None
        partial = decision is rules.Decision.PARTIAL
        awarded = amounts(form, "award_") if partial else None
        storage = gib(form.get("partial_storage_gib", ""), "storage if partial") if partial else None
        reviews.decide(s, view.principal, application_id, decision=decision,
                       reason=form.get("reason", "")[:5000], awarded_su=awarded, awarded_storage_gib=storage)

    return attempt(view, change, lambda st, e: render_application(view, application_id, status=st, error=e),
                    f"{target}?done=decided")


@router.post("/applications/{application_id}/reviewers")
def assign_one(view: Member, application_id: int, csrf: Csrf = "", username: Short = "") -> Response:
    checked(view, csrf)
    return attempt(view, lambda s: reviews.assign(s, view.principal, application_id,
                                                   username=username.strip().lower()),
                    lambda st, e: render_application(view, application_id, status=st, error=e),
                    f"/applications/{application_id}?done=assigned")


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
