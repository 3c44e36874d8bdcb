"""The project's workspace in the portal: quota and use, its files (download), and uploads with a progress bar.

The page lists and links without any script; uploading uses ``/static/workspace.js``, which sends the file in
parts to the same upload machinery as the API (``aicc.workspaces.uploads``) through the routes below, signed
in by the portal's session and a CSRF header. Large files: the CLI (``aicc ws put``) resumes across runs.
"""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from aicc.api.routers.workspaces import ranged, stream_part, upload_out
from aicc.api.schemas.workspaces import UploadCreate, UploadFinish, WsPathQuery
from aicc.portal.routing import Member, PortalRoute
from aicc.portal.session import check_csrf
from aicc.portal.view import View
from aicc.services import workspaces as svc
from aicc.workspaces import files, uploads

router = APIRouter(route_class=PortalRoute)


def _csrf(view: View, request: Request) -> None:
    assert view.me is not None
    check_csrf(view.me.csrf, request.headers.get("x-csrf"))


@router.get("/projects/{project_id}/workspace")
def workspace_page(view: Member, project_id: int, path: WsPathQuery = "") -> Response:
    opened = svc.open_workspace(view.db, view.settings, view.principal, project_id)
    info = svc.summary(view.settings, opened)
    with files.opened(opened.ws.files) as root:
        entries, hidden = files.list_dir(root, path)
    parent = path.rpartition("/")[0] if path else None
    return view.render("workspace.html", project_id=project_id, info=info, entries=entries, hidden=hidden,
                       dir=path, parent=parent)


@router.get("/projects/{project_id}/workspace/file")
def workspace_file(view: Member, project_id: int, path: WsPathQuery,
                   range_: Annotated[str | None, Header(alias="Range", max_length=200)] = None) -> Response:
    opened = svc.open_workspace(view.db, view.settings, view.principal, project_id)
    with files.opened(opened.ws.files) as root:
        fd, st = files.open_for_reading(root, path, opened.ws.uid)
    return ranged(fd, st, range_, path)


@router.post("/projects/{project_id}/workspace/uploads")
def portal_start_upload(view: Member, request: Request, project_id: int, body: UploadCreate) -> Response:
    _csrf(view, request)
    opened = svc.open_workspace(view.db, view.settings, view.principal, project_id)
    up = uploads.create(opened.ws, body.path, body.size, body.sha256, overwrite=body.overwrite,
                        room=svc.room(view.settings, opened), user=view.principal.username)
    return JSONResponse(upload_out(up).model_dump(), status_code=201)


@router.put("/projects/{project_id}/workspace/uploads/{upload_id}")
async def portal_send_part(view: Member, request: Request, project_id: int, upload_id: str,
                           offset: Annotated[int, Query(ge=0, le=1 << 50)]) -> Response:
    _csrf(view, request)
    opened = await to_thread.run_sync(svc.open_workspace, view.db, view.settings, view.principal, project_id)
    return JSONResponse((await stream_part(request, opened.ws, upload_id, offset)).model_dump())


@router.post("/projects/{project_id}/workspace/uploads/{upload_id}/finish")
def portal_finish_upload(view: Member, request: Request, project_id: int, upload_id: str,
                         body: UploadFinish) -> Response:
    _csrf(view, request)
    opened = svc.open_workspace(view.db, view.settings, view.principal, project_id)
    entry, digest = uploads.finish(opened.ws, upload_id, body.sha256)
    svc.record(view.db, view.principal, opened, "upload", {"path": entry.path, "size": entry.size, "sha256": digest})
    return JSONResponse({"path": entry.path, "size": entry.size, "sha256": digest})
