"""Services in the portal: the project's always-on endpoints, their replicas and what happened to them.

Read-only here (create, update and keys are in the CLI and the API, where a key can be shown once).
"""

from __future__ import annotations

import shlex

from fastapi import APIRouter
from fastapi.responses import Response

from aicc.portal.routing import Member, PortalRoute
from aicc.services.serving import catalog
from aicc.store.models import ProjectRow

router = APIRouter(route_class=PortalRoute)


@router.get("/services")
def services_page(view: Member) -> Response:
    with view.db.read() as s:
        rows = catalog.list_services(s, view.principal)
        names = {r.project_id: (p.name if (p := s.get(ProjectRow, r.project_id)) else "") for r in rows}
        items = [(r, names[r.project_id], sum(j.replica_state == "ready" for j in catalog.replicas(s, r.id)))
                 for r in rows]
        return view.render("services.html", items=items)


@router.get("/services/{service_id}")
def service_page(view: Member, service_id: int) -> Response:
    with view.db.read() as s:
        row = catalog.get(s, view.principal, service_id)
        project = s.get(ProjectRow, row.project_id)
        rev = catalog.revision(s, row)
        return view.render("service.html", svc=row, project=project, rev=rev, command=shlex.join(rev.command),
                           replicas=catalog.replicas(s, row.id),
                           events=catalog.events(s, view.principal, row.id, limit=50)[::-1])
