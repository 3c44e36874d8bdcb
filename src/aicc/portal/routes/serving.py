"""Services in the portal: create one, roll out a new image, roll back, scale, stop and start, its API keys
(the secret shown once, on the page that made it) and what happened to it.

Every change calls the same ``aicc.services.serving`` functions as the API and the CLI, in one transaction,
and refuses bad input with the reason on the page; nothing here queries the database itself.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from aicc.core.errors import DomainError
from aicc.portal.forms import REFUSALS, attempt, checked, notice, refusal
from aicc.portal.i18n import N_
from aicc.portal.routing import Member, PortalRoute
from aicc.portal.view import View
from aicc.services import inventory, job_search
from aicc.services.serving import catalog
from aicc.services.serving import keys as key_svc

router = APIRouter(route_class=PortalRoute)
Text = Annotated[str, Form(max_length=4096)]
Short = Annotated[str, Form(max_length=255)]
Number = Annotated[str, Form(max_length=20)]
CSRF = Annotated[str, Form(max_length=100)]

NOTICES = {
    "created": N_("Service created: its replicas start when capacity is free."),
    "updated": N_("New revision: replicas roll to it one at a time."),
    "rolled_back": N_("Rolled back to the previous revision."),
    "scaled": N_("Replica counts changed."),
    "stopped": N_("Service stopped: no replica runs or is charged until you start it."),
    "started": N_("Service started again."),
    "revoked": N_("Key revoked: it is refused within a second."),
}
DEFAULTS: dict[str, Any] = {"name": "", "image": "", "command": "", "port": 8000, "health": "/health", "replicas": 1,
                            "min_replicas": "", "max_replicas": "", "flavor": "cpu", "gpus": 0, "project_id": 0}


def _wake(view: View) -> None:
    wake = getattr(view.request.app.state, "wake_controller", None)
    if wake:
        wake()


def _int(value: str, default: int | None = None) -> int | None:
    value = value.strip()
    if not value:
        return default
    return int(value)


def _list_page(view: View, status: int = 200, error: str | None = None, values: dict[str, Any] | None = None,
               done: str = "") -> Response:
    with view.db.read() as s:
        items = catalog.summaries(s, view.principal)
        projects = job_search.visible_projects(s, view.principal)
        flavors = inventory.flavors(s)
    v = {**DEFAULTS, "project_id": projects[0].id if projects else 0, **(values or {})}
    return view.render("services.html", status=status, items=items, projects=projects, flavors=flavors, v=v,
                       error=error, notice=notice(view, NOTICES, done))


@router.get("/services")
def services_page(view: Member, done: str = "") -> Response:
    return _list_page(view, done=done)


@router.post("/services")
def create_service(view: Member, csrf: CSRF = "", project_id: Number = "0", name: Short = "", image: Text = "",
                   command: Text = "", port: Number = "8000", health: Short = "/health", replicas: Number = "1",
                   min_replicas: Number = "", max_replicas: Number = "", flavor: Short = "",
                   gpus: Number = "0") -> Response:
    checked(view, csrf)
    _ = view._
    values = {"project_id": project_id, "name": name, "image": image, "command": command, "port": port,
              "health": health, "replicas": replicas, "min_replicas": min_replicas, "max_replicas": max_replicas,
              "flavor": flavor, "gpus": gpus}
    try:
        pid, port_n, want, low, high, gpu_n = (_int(project_id, 0), _int(port, 8000), _int(replicas, 1),
                                              _int(min_replicas), _int(max_replicas), _int(gpus, 0))
        argv = shlex.split(command)
    except ValueError:
        return _list_page(view, 422, _("Give whole numbers, and a command whose quotes are closed."), values)
    if not argv:
        return _list_page(view, 422, _("Give the command that starts the server."), values)
    spec = catalog.ServiceSpec(
        project_id=pid or 0, name=name.strip(), replicas=want or 1, min_replicas=low, max_replicas=high,
        revision=catalog.RevisionSpec(command=argv, port=port_n or 0, health_path=health.strip(),
                                      image=image.strip() or None, flavors=[flavor] if flavor else [],
                                      accelerators=gpu_n or 0))
    try:
        with view.db.write() as s:
            row = catalog.create(s, view.principal, view.settings, spec)
            service_id = row.id
    except REFUSALS as exc:
        return _list_page(view, 409 if exc.status == 409 else 422, refusal(view, exc), values)
    except DomainError as exc:  # a project the person is not in: the same page, the reason in their words
        return _list_page(view, 404, refusal(view, exc), values)
    _wake(view)
    return RedirectResponse(f"/services/{service_id}?done=created", status_code=303)


def _detail_page(view: View, service_id: int, status: int = 200, error: str | None = None, done: str = "",
                 secret: str | None = None) -> Response:
    with view.db.read() as s:
        row = catalog.get(s, view.principal, service_id)
        rev = catalog.revision(s, row)
        return view.render("service.html", status=status, svc=row, project=catalog.project_name(s, row), rev=rev,
                           command=shlex.join(rev.command), replicas=catalog.replicas(s, row.id),
                           keys=key_svc.list_keys(s, view.principal, row.id),
                           events=catalog.events(s, view.principal, row.id, limit=50)[::-1],
                           error=error, notice=notice(view, NOTICES, done), secret=secret)


@router.get("/services/{service_id}")
def service_page(view: Member, service_id: int, done: str = "") -> Response:
    return _detail_page(view, service_id, done=done)


def _change(view: View, service_id: int, csrf: str, change: Callable[[Session], Any], done: str) -> Response:
    checked(view, csrf)
    response = attempt(view, change, lambda status, error: _detail_page(view, service_id, status, error),
                       f"/services/{service_id}?done={done}")
    if response.status_code == 303:
        _wake(view)
    return response


@router.post("/services/{service_id}/image")
def update_image(view: Member, service_id: int, csrf: CSRF = "", image: Text = "") -> Response:
    """A new revision with this image (the rest as it is)."""
    return _change(view, service_id, csrf, lambda s: catalog.update(
        s, view.principal, view.settings, service_id, image=image.strip()), "updated")


@router.post("/services/{service_id}/rollback")
def rollback(view: Member, service_id: int, csrf: CSRF = "") -> Response:
    return _change(view, service_id, csrf, lambda s: catalog.rollback(s, view.principal, service_id), "rolled_back")


@router.post("/services/{service_id}/scale")
def scale(view: Member, service_id: int, csrf: CSRF = "", replicas: Number = "", min_replicas: Number = "",
          max_replicas: Number = "") -> Response:
    try:
        want, low, high = _int(replicas), _int(min_replicas), _int(max_replicas)
    except ValueError:
        checked(view, csrf)
        return _detail_page(view, service_id, 422, view._("Give whole numbers."))
    return _change(view, service_id, csrf, lambda s: catalog.scale(
        s, view.principal, service_id, replicas=want, min_replicas=low, max_replicas=high), "scaled")


@router.post("/services/{service_id}/stop")
def stop(view: Member, service_id: int, csrf: CSRF = "") -> Response:
    return _change(view, service_id, csrf, lambda s: catalog.halt(s, view.principal, service_id), "stopped")


@router.post("/services/{service_id}/start")
def start(view: Member, service_id: int, csrf: CSRF = "") -> Response:
    return _change(view, service_id, csrf, lambda s: catalog.start(s, view.principal, service_id), "started")


@router.post("/services/{service_id}/keys")
def create_key(view: Member, service_id: int, csrf: CSRF = "", name: Short = "", rate_per_s: Number = "50"
               ) -> Response:
    """The key is shown on this page, once (only its hash is kept): not a redirect, so a reload cannot show it."""
    checked(view, csrf)
    try:
        rate = float(rate_per_s)
    except ValueError:
        return _detail_page(view, service_id, 422, view._("Give the rate as a number of requests per second."))
    try:
        with view.db.write() as s:
            secret = key_svc.create(s, view.principal, service_id, name=name, rate_per_s=rate).key
    except REFUSALS as exc:
        return _detail_page(view, service_id, 422, refusal(view, exc))
    response = _detail_page(view, service_id, 201, secret=secret)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/services/{service_id}/keys/{key_id}/revoke")
def revoke_key(view: Member, service_id: int, key_id: int, csrf: CSRF = "") -> Response:
    response = _change(view, service_id, csrf, lambda s: key_svc.revoke(s, view.principal, service_id, key_id),
                       "revoked")
    gateway = getattr(view.request.app.state, "gateway", None)
    if response.status_code == 303 and gateway is not None:
        gateway.forget_key(key_id)  # refused at once here, within a second on other servers
    return response
