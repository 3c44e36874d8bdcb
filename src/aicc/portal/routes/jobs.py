"""Jobs: the list (filters, sorting, pages), the submit form, a job's page with its log, cancel."""

from __future__ import annotations

import shlex
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from fastapi.responses import JSONResponse, RedirectResponse, Response

from aicc.core.errors import DomainError
from aicc.core.jobs import JobState
from aicc.portal.routing import Member, PortalRoute
from aicc.portal.session import check_csrf
from aicc.portal.view import View
from aicc.services import inventory, job_search, projects
from aicc.services import jobs as svc
from aicc.services.datazone import outputs, runs
from aicc.services.submission import Submitter
from aicc.store.models import JobRow

router = APIRouter(route_class=PortalRoute)
STATES = [s.value for s in JobState]
TAIL = 16 * 1024


@router.get("/jobs")
def job_list(
    view: Member, state: Annotated[str, Query(max_length=16)] = "", project: Annotated[int, Query(ge=0)] = 0,
    mine: bool = False, sort: Annotated[str, Query(max_length=16)] = "id",
    dir: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc", page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    p = view.principal
    sort = sort if sort in job_search.SORTS else "id"
    with view.db.read() as s:
        found = job_search.search(s, p, project_id=project or None, states=[state] if state in STATES else [],
                                  mine=mine, sort=sort, descending=dir == "desc", page=page)
        visible = job_search.visible_projects(s, p)
    query = {"state": state if state in STATES else "", "project": project, "mine": mine, "sort": sort, "dir": dir}
    return view.render("jobs.html", found=found, projects=visible, states=STATES, q=query)


def _form(view: View, status: int = 200, error: str | None = None, values: dict[str, Any] | None = None
          ) -> Response:
    with view.db.read() as s:
        visible = job_search.visible_projects(s, view.principal)
        flavors = inventory.flavors(s)
    defaults = {"project_id": visible[0].id if visible else 0, "name": "", "command": "", "flavors": [],
                "accelerators": 0, "cpus": 1, "memory_gb": 4, "time_limit_min": 60, "priority": 0, "datasets": "",
                "image": ""}
    return view.render("submit.html", status=status, projects=visible, flavors=flavors, error=error,
                       v={**defaults, **(values or {})}, max_minutes=view.settings.max_time_limit_s // 60)


@router.get("/jobs/new")
def submit_form(view: Member) -> Response:
    return _form(view)


Number = Annotated[str, Form(max_length=20)]
"""Numbers arrive as text and are checked here, so a value the browser let through (or a form of another
tab) comes back on the form with the field named, instead of a bare error page."""


def _numbers(view: View, raw: dict[str, str]) -> tuple[dict[str, int], str | None]:
    _ = view._
    limits = {"project_id": (1, 2**31 - 1, _("Project")), "accelerators": (0, 4096, _("Accelerators")),
              "cpus": (1, 65536, _("CPUs")), "memory_gb": (1, 65536, _("Memory (GB)")),
              "time_limit_min": (1, view.settings.max_time_limit_s // 60, _("Time limit (minutes)")),
              "priority": (-100, 100, _("Priority (-100 to 100)"))}
    out: dict[str, int] = {}
    for key, (lo, hi, label) in limits.items():
        text = raw[key].strip()
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not lo <= value <= hi:
            return out, _("{field}: give a whole number from {lo} to {hi}.", field=label, lo=view.f.num(lo, 0),
                          hi=view.f.num(hi, 0))
        out[key] = value
    return out, None


@router.post("/jobs")
def submit(
    view: Member, csrf: Annotated[str, Form(max_length=100)] = "", project_id: Number = "1",
    name: Annotated[str, Form(max_length=128)] = "", command: Annotated[str, Form(max_length=8192)] = "",
    flavors: Annotated[list[str], Form(max_length=16)] = [],  # noqa: B006 (FastAPI copies defaults)
    accelerators: Number = "0", cpus: Number = "1", memory_gb: Number = "4", time_limit_min: Number = "60",
    priority: Number = "0", datasets: Annotated[str, Form(max_length=1000)] = "",
    image: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    assert view.me is not None
    check_csrf(view.me.csrf, csrf)
    _ = view._
    raw = {"project_id": project_id, "accelerators": accelerators, "cpus": cpus, "memory_gb": memory_gb,
           "time_limit_min": time_limit_min, "priority": priority}
    numbers, wrong = _numbers(view, raw)
    values: dict[str, Any] = {**raw, **numbers, "name": name, "command": command, "flavors": flavors,
                              "datasets": datasets, "image": image}
    if wrong:
        return _form(view, 422, wrong, values)
    try:
        argv = shlex.split(command)
    except ValueError:
        return _form(view, 422, _("The command has an unmatched quote."), values)
    if not argv:
        return _form(view, 422, _("Give a command to run."), values)
    spec = svc.JobSpec(project_id=numbers["project_id"], command=argv, name=name.strip() or None, flavors=flavors,
                       accelerators=numbers["accelerators"], cpus=numbers["cpus"],
                       memory_mb=numbers["memory_gb"] * 1024, time_limit_s=numbers["time_limit_min"] * 60,
                       priority=numbers["priority"],
                       datasets=[d.strip() for d in datasets.split(",") if d.strip()][:16],
                       image=image.strip() or None)
    submitter: Submitter = view.request.app.state.submitter
    try:
        done = submitter.submit_sync(view.principal, spec).result(timeout=60)
    except DomainError as exc:
        return _form(view, 422, view.refusal(exc.detail or ""), values)
    wake = getattr(view.request.app.state, "wake_controller", None)
    if wake:
        wake()
    return RedirectResponse(f"/jobs/{done.ids[0]}?submitted=1", status_code=303)


@router.get("/jobs/{job_id}")
def job_page(view: Member, job_id: int, submitted: bool = False, cancelled: bool = False) -> Response:
    p = view.principal
    with view.db.read() as s:
        job = svc.get(s, p, job_id)
        project = projects.get(s, p, job.project_id)
        held = outputs.is_held(s, job)  # as the API: a sensitive job's logs leave only through its custodian
        logs = {stream: ("", 0) if held else _tail(view, job, stream) for stream in ("stdout", "stderr")}
        coarse = runs.held_overrides(s, p, [job], view.settings).get(job.id)
        shown: Any = _Coarsened(job, coarse) if coarse else job
        can_cancel = job.state in svc.ACTIVE and (job.user_id == p.user_id or p.is_org_admin(project.organization_id))
        command = "(script)" if job.script else shlex.join(job.command)
        return view.render("job.html", job=shown, project=project, logs=logs, command=command,
                           active=job.state in svc.ACTIVE, can_cancel=can_cancel, held=held,
                           submitted=submitted, cancelled=cancelled)


class _Coarsened:
    """A held job as its project sees it: the coarse fields over the row's (services.datazone.runs)."""

    def __init__(self, job: JobRow, fields: dict[str, Any]) -> None:
        self._job, self._fields = job, fields

    def __getattr__(self, name: str) -> Any:
        return self._fields[name] if name in self._fields else getattr(self._job, name)


def _tail(view: View, job: JobRow, stream: str) -> tuple[str, int]:
    """The last ``TAIL`` bytes of a log (cut at a line start when possible) and the offset after them."""
    size = svc.read_log(view.settings, job, stream, 0, 0)[2]
    data, offset, _ = svc.read_log(view.settings, job, stream, max(0, size - TAIL), TAIL)
    if size > TAIL and b"\n" in data:
        data = data[data.index(b"\n") + 1:]
    return data.decode("utf-8", errors="replace"), offset


@router.get("/jobs/{job_id}/log")
def job_log(
    view: Member, job_id: int, offset: Annotated[int, Query(ge=0, le=2**50)] = 0,
    stream: Annotated[str, Query(pattern="^(stdout|stderr)$")] = "stdout",
) -> Response:
    """What the page's script polls: new log bytes since ``offset``, and the job's state in words."""
    with view.db.read() as s:
        job = svc.get(s, view.principal, job_id)
        if outputs.is_held(s, job):
            data, nxt, size = b"", offset, 0
        else:
            data, nxt, size = svc.read_log(view.settings, job, stream, offset, 64 * 1024)
        held_view = runs.held_overrides(s, view.principal, [job], view.settings).get(job.id)
    shown: Any = _Coarsened(job, held_view) if held_view else job
    _ = view._
    finished = job.state not in svc.ACTIVE
    ran_on = (job.flavor or "–") + (f" ({_('borrowed capacity')})" if job.borrowed else "")
    return JSONResponse({"data": data.decode("utf-8", errors="replace"), "next_offset": nxt, "size": size,
                         "finished": finished, "state": job.state, "state_label": _(job.state),
                         "reason": view.job_reason(shown),
                         # the page's facts follow the job too, in the page's own formatting (coarse while held)
                         "facts": {"job-started": view.f.when(shown.started_at),
                                   "job-ended": view.f.when(shown.ended_at), "job-ran-on": ran_on,
                                   "job-exit": "–" if shown.exit_code is None else str(shown.exit_code)},
                         "note": _("The job has ended; this is its final output.") if finished else None})


@router.post("/jobs/{job_id}/cancel")
def cancel(view: Member, job_id: int, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    assert view.me is not None
    check_csrf(view.me.csrf, csrf)
    with view.db.write() as s:
        svc.cancel(s, view.principal, job_id)
    wake = getattr(view.request.app.state, "wake_controller", None)
    if wake:
        wake()
    return RedirectResponse(f"/jobs/{job_id}?cancelled=1", status_code=303)
