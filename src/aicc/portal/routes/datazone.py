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
from aicc.core.tenancy import OrgRole
from aicc.portal.app import Member, PortalRoute
from aicc.portal.forms import attempt, checked, notice, refusal
from aicc.portal.i18n import N_
from aicc.portal.tables import sort_page
from aicc.portal.view import View
from aicc.services import audit, job_search
from aicc.services.datazone import datasets, grants, outputs
from aicc.services.datazone.files import content_disposition
from aicc.store.models import DatasetRow, JobRow, OrganizationRow, ProjectRow, UserRow, utcnow

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


def custodian_orgs(view: View) -> list[int]:
    p = view.principal
    return [o for o, r in p.org_roles.items() if r in (OrgRole.DATA_CUSTODIAN, OrgRole.ORG_ADMIN)]


# -- the hub ------------------------------------------------------------------------------------------

@router.get("/datazone")
def hub(view: Member, done: str = "") -> Response:
    return render_hub(view, notice=notice(view, NOTICES, done))


def render_hub(view: View, *, status: int = 200, error: str | None = None, notice: str | None = None,
               values: dict[str, Any] | None = None) -> Response:
    p = view.principal
    now = utcnow()
    with view.db.read() as s:
        sets = datasets.list_datasets(s, p)
        grant_rows = grants.list_grants(s, p)
        requests = outputs.list_requests(s, p)
        dataset_of = {g.dataset_id: s.get(DatasetRow, g.dataset_id) for g in grant_rows}
        project_ids = {g.project_id for g in grant_rows} | {r.project_id for r in requests}
        project_names = {i: pr.name for i in project_ids if (pr := s.get(ProjectRow, i)) is not None}
        org_names = {o.id: o.display_name or o.name for o in
                     (s.get(OrganizationRow, i) for i in {d.organization_id for d in sets}) if o is not None}
        mine = job_search.visible_projects(s, p)
        file_counts = {r.id: len(outputs.files(s, r.id)) for r in requests}
    decides = {g.id: ds is not None and datasets.is_custodian(p, ds.organization_id) and p.sees_org(ds.organization_id)
               for g, ds in ((g, dataset_of[g.dataset_id]) for g in grant_rows)}
    grant_table = sort_page(view.request, grant_rows, {
        "id": lambda g: g.id, "state": lambda g: g.state, "expires": lambda g: g.expires_at,
        "dataset": lambda g: getattr(dataset_of[g.dataset_id], "name", ""),
        "project": lambda g: project_names.get(g.project_id, "")}, default="id", prefix="g_")
    out_table = sort_page(view.request, requests, {
        "id": lambda r: r.id, "state": lambda r: r.state, "job": lambda r: r.job_id,
        "created": lambda r: r.created_at}, default="id", prefix="o_")
    set_table = sort_page(view.request, sets, {
        "name": lambda d: d.name, "classification": lambda d: d.classification, "state": lambda d: d.state,
        "k": lambda d: d.k_report["k"] if d.k_report else None}, default="name", descending=False, prefix="d_")
    today = now.astimezone(view.f.tz).date()
    v = {"dataset": "", "project_id": "", "purpose": "", "expires": (today + dt.timedelta(days=90)).isoformat(),
         **(values or {})}
    return view.render(
        "datazone.html", status=status, sets=set_table, org_names=org_names, grants=grant_table,
        dataset_of=dataset_of, project_names=project_names, decides=decides, outs=out_table,
        file_counts=file_counts, projects=mine, custodian=bool(custodian_orgs(view)) or p.is_center_admin,
        can_publish={d.id: datasets.is_custodian(p, d.organization_id) and p.sees_org(d.organization_id)
                     for d in sets},
        error=error, notice=notice, v=v, now=now)


# -- datasets -----------------------------------------------------------------------------------------

@router.get("/datazone/datasets/{dataset_id}")
def dataset_page(view: Member, dataset_id: int) -> Response:
    p = view.principal
    with view.db.read() as s:
        ds = datasets.get(s, p, dataset_id)
        org = s.get(OrganizationRow, ds.organization_id)
        rows = grants.list_grants(s, p, dataset_id=ds.id)
        project_names = {g.project_id: pr.name for g in rows if (pr := s.get(ProjectRow, g.project_id))}
    files = (ds.manifest or {}).get("published") or (ds.manifest or {}).get("source") or {}
    return view.render("dataset.html", ds=ds, org=org, grants=rows, project_names=project_names, files=len(files),
                       size=sum(int(f["bytes"]) for f in files.values()),
                       custodian=datasets.is_custodian(p, ds.organization_id) and p.sees_org(ds.organization_id))


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
    p = view.principal
    with view.db.read() as s:
        req, access = outputs.get(s, p, request_id)
        rows, held = outputs.visible_files(s, access, req.id)
        job = s.get(JobRow, req.job_id)
        project = s.get(ProjectRow, req.project_id)
        names = {d.id: d.name for d in (s.get(DatasetRow, i) for i in req.dataset_ids) if d is not None}
        deciders = {u.id: u.username for u in (s.get(UserRow, f.decided_by) for f in rows if f.decided_by)
                    if u is not None}
    own_job = job is not None and job.user_id == p.user_id
    return view.render("output.html", status=status, req=req, files=rows, held=held, job=job, project=project,
                       datasets=names, deciders=deciders, custodian=access.custodian, member=access.member,
                       may_decide=access.custodian and not own_job, own_job=own_job, error=error, notice=notice)


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
        req, access = outputs.get(s, view.principal, request_id)
        f = next((x for x in outputs.visible_files(s, access, req.id)[0] if x.id == file_id), None)
    if f is None:
        raise NotFound("output file not found")
    name, data = _read(view, request_id, file_id)
    text = data[:SHOW_BYTES].decode("utf-8", errors="replace")
    return view.render("output_file.html", req=req, file=f, name=name, text=text, cut=len(data) > SHOW_BYTES,
                       custodian=access.custodian)


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
