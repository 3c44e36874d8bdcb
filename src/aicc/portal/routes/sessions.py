"""Sessions: start JupyterLab or a terminal, see it come up, open it in one click, stop it.

The Open link goes to ``/s/<id>/…`` on this same server: the browser already carries the sign-in cookie, so
the proxy lets its owner through with nothing else to type or copy (no token in any URL).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import RedirectResponse, Response

from aicc.core.errors import DomainError
from aicc.core.sessions import SessionKind, SessionPhase
from aicc.portal.routing import Member, PortalRoute
from aicc.portal.session import check_csrf
from aicc.portal.view import View
from aicc.services import course_materials, courses, inventory, job_search
from aicc.services import sessions as svc

router = APIRouter(route_class=PortalRoute)
Number = Annotated[str, Form(max_length=20)]


def _page(view: View, status: int = 200, error: str | None = None, values: dict[str, Any] | None = None,
          started: int | None = None, stopped: int | None = None) -> Response:
    with view.db.read() as s:
        mine = svc.list_mine(s, view.principal, view.settings, limit=30)
        visible = job_search.visible_projects(s, view.principal)
        flavors = [f for f in inventory.flavors(s) if f.vendor != "cpu"]
    live = [x for x in mine if x.phase is not SessionPhase.ENDED]
    waiting = any(x.phase in (SessionPhase.PENDING, SessionPhase.STARTING) for x in live)
    defaults = {"project_id": visible[0].id if visible else 0, "kind": "jupyter", "accelerators": 0,
                "flavor": "", "time_limit_min": 120}
    return view.render("sessions.html", status=status, live=live, ended=[x for x in mine if x not in live][:10],
                       projects=visible, flavors=flavors, error=error, v={**defaults, **(values or {})},
                       refresh=3 if waiting else (60 if live else 0), started=started, stopped=stopped)


@router.get("/sessions")
def sessions_page(view: Member, started: int | None = None, stopped: int | None = None) -> Response:
    return _page(view, started=started, stopped=stopped)


@router.post("/sessions")
def start(
    view: Member, csrf: Annotated[str, Form(max_length=100)] = "", project_id: Number = "0",
    kind: Annotated[str, Form(max_length=16)] = "jupyter", accelerators: Number = "0",
    flavor: Annotated[str, Form(max_length=63)] = "", time_limit_min: Number = "120",
) -> Response:
    assert view.me is not None
    check_csrf(view.me.csrf, csrf)
    _ = view._
    values: dict[str, Any] = {"project_id": project_id, "kind": kind, "accelerators": accelerators, "flavor": flavor,
                              "time_limit_min": time_limit_min}
    try:
        pid, gpus, minutes = int(project_id), int(accelerators), int(time_limit_min)
    except ValueError:
        return _page(view, 422, _("Give whole numbers."), values)
    if kind not in (k.value for k in SessionKind) or not 0 <= gpus <= 64 or not 1 <= minutes <= 7 * 24 * 60:
        return _page(view, 422, _("Choose a kind, 0 to 64 accelerators and a time limit in minutes."), values)
    spec = svc.SessionSpec(project_id=pid, kind=SessionKind(kind), accelerators=gpus,
                           flavors=[flavor] if flavor and gpus else [], time_limit_s=minutes * 60)
    try:
        with view.db.write() as s:
            job = svc.start(s, view.principal, view.settings, spec)
            job_id = job.id
    except DomainError as exc:
        return _page(view, 422, view.refusal(exc.detail or ""), values)
    wake = getattr(view.request.app.state, "wake_controller", None)
    if wake:
        wake()
    return RedirectResponse(f"/sessions?started={job_id}", status_code=303)


@router.post("/sessions/{session_id}/stop")
def stop(view: Member, session_id: int, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    assert view.me is not None
    check_csrf(view.me.csrf, csrf)
    with view.db.write() as s:
        svc.stop(s, view.principal, session_id)
    wake = getattr(view.request.app.state, "wake_controller", None)
    if wake:
        wake()
    return RedirectResponse(f"/sessions?stopped={session_id}", status_code=303)


@router.get("/courses/{course_id}")
def course_page(view: Member, course_id: int, stopped: int | None = None) -> Response:
    """An instructor's view: who is enrolled, what each runs and has used, every session with Stop, and the
    materials every session sees read-only."""
    return _course(view, course_id, stopped=stopped)


def _course(view: View, course_id: int, status: int = 200, stopped: int | None = None,
            error: str | None = None) -> Response:
    with view.db.read() as s:
        course = courses.get(s, course_id)
        members = courses.roster(s, view.principal, course_id)
        live = [x for x in svc.list_course(s, view.principal, view.settings, course_id)
                if x.phase is not SessionPhase.ENDED]
        materials = course_materials.list_(s, view.principal, view.settings, course_id)
    return view.render("course.html", status=status, course=course, members=members, live=live, stopped=stopped,
                       materials=materials, error=error)


@router.post("/courses/{course_id}/materials")
async def material_put(view: Member, course_id: int, csrf: Annotated[str, Form(max_length=100)] = "",
                       file: Annotated[UploadFile | None, File()] = None) -> Response:
    assert view.me is not None
    check_csrf(view.me.csrf, csrf)
    if file is None or not file.filename:
        return _course(view, course_id, 422, error=view._("Choose a file to attach."))
    data = await file.read()
    try:
        with view.db.write() as s:
            course_materials.put(s, view.principal, view.settings, course_id, file.filename, data)
    except DomainError as exc:
        if exc.status == 404:
            raise
        return _course(view, course_id, 422, error=view.refusal(exc.detail or ""))
    return RedirectResponse(f"/courses/{course_id}", status_code=303)


@router.post("/courses/{course_id}/materials/{name}/remove")
def material_remove(view: Member, course_id: int, name: str,
                    csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    assert view.me is not None
    check_csrf(view.me.csrf, csrf)
    with view.db.write() as s:
        course_materials.remove(s, view.principal, view.settings, course_id, name)
    return RedirectResponse(f"/courses/{course_id}", status_code=303)


@router.post("/courses/{course_id}/sessions/{session_id}/stop")
def course_stop(view: Member, course_id: int, session_id: int,
                csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    assert view.me is not None
    check_csrf(view.me.csrf, csrf)
    with view.db.write() as s:
        svc.stop(s, view.principal, session_id)
    wake = getattr(view.request.app.state, "wake_controller", None)
    if wake:
        wake()
    return RedirectResponse(f"/courses/{course_id}?stopped={session_id}", status_code=303)
