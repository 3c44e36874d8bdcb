"""The secure data zone on the portal: datasets, grants, held outputs and their release, the audit trail.

Custodians publish datasets, decide on grants (and revoke them, optionally
stopping running jobs), read held files and approve or reject them file by file;
projects ask for grants, follow their output requests and download released files
only. Every read and decision goes through ``services.datazone`` (which audits
views, decisions and downloads) with the signed-in user's principal, so the portal
refuses exactly what the API refuses.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from aicc.core.errors import InvalidInput, NotFound
from aicc.portal.forms import attempt, checked, notice, refusal
from aicc.portal.i18n import N_
from aicc.portal.routing import Member, PortalRoute
from aicc.portal.tables import sort_page
from aicc.portal.view import View
from aicc.services import audit
from aicc.services.datazone import datasets, grants, outputs, overview
from aicc.services.datazone.files import content_disposition
from aicc.store.models import utcnow

router = APIRouter(route_class=PortalRoute)
Csrf = Annotated[str, Form(max_length=100)]
Comment = Annotated[str, Form(max_length=5000)]
SHOW_BYTES = 256 * 1024
AUDIT_PAGE = 50

NOTICES = {
    "published": N_("Dataset published: granted projects may use it now."),
    "requested": N_("Grant requested. The dataset's custodian decides; you see the answer here."),
    "decided": N_("Decision recorded."),
    "revoked": N_("Grant revoked. New jobs stop at once."),
    "stopped": N_("Grant revoked; its running jobs are being stopped."),
    "file": N_("Decision on the file recorded."),
}


# -- the hub ------------------------------------------------------------------------------------------

@router.get("/datazone")
def hub(view: Member, done: str = "") -> Response:
    return render_hub(view, notice=notice(view, NOTICES, done))


def render_hub(view: View, *, status: int = 200, error: str | None = None, notice: str | None = None,
               values: dict[str, Any] | None = None) -> Response:
    now = utcnow()
    with view.db.read() as s:
        h = overview.hub(s, view.principal)
    dataset_of, project_names = h.dataset_of, h.project_names
    grant_table = sort_page(view.request, h.grants, {
        "id": lambda g: g.id, "state": lambda g: g.state, "expires": lambda g: g.expires_at,
        "dataset": lambda g: getattr(dataset_of.get(g.dataset_id), "name", ""),
        "project": lambda g: project_names.get(g.project_id, "")}, default="id", prefix="g_")
    out_table = sort_page(view.request, h.requests, {
        "id": lambda r: r.id, "state": lambda r: r.state, "job": lambda r: r.job_id,
        "created": lambda r: r.created_at}, default="id", prefix="o_")
    set_table = sort_page(view.request, h.datasets, {
        "name": lambda d: d.name, "classification": lambda d: d.classification, "state": lambda d: d.state,
        "k": lambda d: d.k_report["k"] if d.k_report else None}, default="name", descending=False, prefix="d_")
    today = now.astimezone(view.f.tz).date()
    v = {"dataset": "", "project_id": "", "purpose": "", "expires": (today + dt.timedelta(days=90)).isoformat(),
         **(values or {})}
    return view.render(
        "datazone.html", status=status, sets=set_table, org_names=h.org_names, grants=grant_table,
        dataset_of=dataset_of, project_names=project_names, decides=h.decides, outs=out_table,
        file_counts=h.file_counts, projects=h.projects, custodian=h.custodian, can_publish=h.can_publish,
        error=error, notice=notice, v=v, now=now)


# -- datasets -----------------------------------------------------------------------------------------

@router.get("/datazone/datasets/{dataset_id}")
def dataset_page(view: Member, dataset_id: int) -> Response:
    with view.db.read() as s:
        d = overview.dataset_page(s, view.principal, dataset_id)
    return view.render("dataset.html", ds=d.dataset, org=d.organization, grants=d.grants,
                       project_names=d.project_names, files=d.files, size=d.size, custodian=d.custodian)


@router.post("/datazone/datasets/{dataset_id}/publish")
def publish(view: Member, dataset_id: int, csrf: Csrf = "") -> Response:
    checked(view, csrf)
    return attempt(view, lambda s: datasets.publish(s, view.principal, view.settings, dataset_id),
                    lambda st, e: render_hub(view, status=st, error=e), "/datazone?done=published")


# -- grants -------------------------------------------------------------------------------------------

@router.post("/datazone/grants")
def request_grant(view: Member, csrf: Csrf = "", dataset: Annotated[str, Form(max_length=63)] = "",
                  project_id: Annotated[int, Form(ge=1)] = 1, purpose: Comment = "",
                  expires: Annotated[str, Form(max_length=40)] = "") -> Response:
    checked(view, csrf)
    values = {"dataset": dataset, "project_id": str(project_id), "purpose": purpose, "expires": expires}

    def change(s: Session) -> None:
        try:
            day = dt.date.fromisoformat(expires.strip())
        except ValueError:
            raise InvalidInput("expiry: give a date like 2027-03-01") from None
        until = dt.datetime.combine(day, dt.time(23, 59), tzinfo=view.f.tz).astimezone(dt.UTC)
        grants.request(s, view.principal, dataset_name=dataset.strip(), project_id=project_id, purpose=purpose,
                       expires_at=until)

    def back(status: int, error: str) -> Response:
        return render_hub(view, status=status, error=error, values=values)

    try:
        return attempt(view, change, back, "/datazone?done=requested")
    except NotFound as exc:  # an unknown dataset or project: said on the form, as the API says it
        return back(404, refusal(view, exc))


@router.post("/datazone/grants/{grant_id}/decision")
def decide_grant(view: Member, grant_id: int, csrf: Csrf = "", approve: Annotated[str, Form(max_length=3)] = "",
                 comment: Comment = "") -> Response:
    checked(view, csrf)
    return attempt(view, lambda s: grants.decide(s, view.principal, grant_id, approve=approve == "yes",
                                                  comment=comment.strip()),
                    lambda st, e: render_hub(view, status=st, error=e), "/datazone?done=decided")


@router.post("/datazone/grants/{grant_id}/revoke")
def revoke_grant(view: Member, grant_id: int, csrf: Csrf = "", comment: Comment = "",
                 stop_running: Annotated[str, Form(max_length=3)] = "") -> Response:
    checked(view, csrf)
    stop = stop_running == "on"
    response = attempt(view, lambda s: grants.revoke(s, view.principal, grant_id, comment=comment.strip(),
                                                      stop_running=stop),
                        lambda st, e: render_hub(view, status=st, error=e),
                        "/datazone?done=" + ("stopped" if stop else "revoked"))
    if stop and response.status_code == 303:
        wake = getattr(view.request.app.state, "wake_controller", None)
        if wake:
            wake()
    return response


# -- output requests ----------------------------------------------------------------------------------

@router.get("/datazone/outputs/{request_id}")
def output_page(view: Member, request_id: int, done: str = "") -> Response:
    return render_output(view, request_id, notice=notice(view, NOTICES, done))


def render_output(view: View, request_id: int, *, status: int = 200, error: str | None = None,
                  notice: str | None = None) -> Response:
    with view.db.read() as s:
        o = overview.output_page(s, view.principal, request_id)
    return view.render("output.html", status=status, req=o.request, files=o.files, held=o.held, job=o.job,
                       project=o.project, datasets=o.dataset_names, deciders=o.deciders,
                       custodian=o.access.custodian, member=o.access.member, may_decide=o.may_decide,
                       own_job=o.own_job, error=error, notice=notice)


@router.post("/datazone/outputs/{request_id}/files/{file_id}/decision")
def decide_file(view: Member, request_id: int, file_id: int, csrf: Csrf = "",
                approve: Annotated[str, Form(max_length=3)] = "", comment: Comment = "") -> Response:
    checked(view, csrf)
    return attempt(view, lambda s: outputs.decide(s, view.principal, view.settings, request_id, file_id,
                                                   approve=approve == "yes", comment=comment.strip()),
                    lambda st, e: render_output(view, request_id, status=st, error=e),
                    f"/datazone/outputs/{request_id}?done=file#file-{file_id}")


def _read(view: View, request_id: int, file_id: int) -> tuple[str, bytes]:
    """The service reads (and audits) the file; only custodians get held files, projects released ones."""
    with view.db.write() as s:
        return outputs.read(s, view.principal, view.settings, request_id, file_id)


@router.get("/datazone/outputs/{request_id}/files/{file_id}/view")
def view_file(view: Member, request_id: int, file_id: int) -> Response:
    with view.db.read() as s:
        req, f, custodian = overview.visible_file(s, view.principal, request_id, file_id)
    name, data = _read(view, request_id, file_id)
    text = data[:SHOW_BYTES].decode("utf-8", errors="replace")
    return view.render("output_file.html", req=req, file=f, name=name, text=text, cut=len(data) > SHOW_BYTES,
                       custodian=custodian)


@router.get("/datazone/outputs/{request_id}/files/{file_id}/download")
def download_file(view: Member, request_id: int, file_id: int) -> Response:
    name, data = _read(view, request_id, file_id)
    return Response(data, media_type="application/octet-stream",
                    headers={"Content-Disposition": content_disposition(name), "X-Content-Type-Options": "nosniff"})


# -- the audit trail ----------------------------------------------------------------------------------

@router.get("/datazone/audit")
def audit_trail(view: Member, after: Annotated[int, Query(ge=0, le=2**62)] = 0,
                action: Annotated[str, Query(max_length=64)] = "") -> Response:
    """Events about the custodian's datasets (and, for organization admins, their organization's)."""
    with view.db.read() as s:
        rows = audit.list_events(s, view.principal, after=after or None, limit=AUDIT_PAGE + 1,
                                 action=action.strip() or None)
    more = len(rows) > AUDIT_PAGE
    rows = rows[:AUDIT_PAGE]
    return view.render("audit.html", rows=rows, more=more, after=after, action=action.strip(),
                       next_after=rows[-1].seq if rows else after)
