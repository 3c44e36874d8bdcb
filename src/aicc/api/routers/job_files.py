"""/api/v1/jobs/{id}/files: what an ordinary job wrote in its directory, listed and downloaded (with Range)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response

from aicc.api.deps import DB, Actor, Config
from aicc.api.routers.workspaces import ranged
from aicc.api.schemas.common import PathId
from aicc.api.schemas.workspaces import WsEntry, WsListing, WsPathQuery
from aicc.core.errors import NotFound
from aicc.services import job_files as svc
from aicc.workspaces import files

router = APIRouter(prefix="/jobs/{job_id}/files", tags=["jobs"])


@router.get("", response_model=WsListing)
def list_job_files(db: DB, actor: Actor, config: Config, job_id: PathId, path: WsPathQuery = "") -> WsListing:
    """Files and directories the job made (its project's), not the server's own files beside them."""
    with db.read() as s:
        directory, uid = svc.job_dir(s, actor, config, job_id)
    if uid is None or not directory.is_dir():
        return WsListing(path=path, entries=[], hidden=0)
    with files.opened(directory) as root:
        entries, hidden = files.list_dir(root, path, owner=uid)
    return WsListing(path=path, entries=[WsEntry(path=e.path, kind=e.kind, size=e.size, mtime=e.mtime)
                                         for e in entries], hidden=hidden)


@router.get("/content", response_class=Response, responses={206: {"description": "the requested range"}})
def download_job_file(db: DB, actor: Actor, config: Config, job_id: PathId, path: WsPathQuery,
                      range_: Annotated[str | None, Header(alias="Range", max_length=200)] = None) -> Response:
    with db.read() as s:
        directory, uid = svc.job_dir(s, actor, config, job_id)
    if uid is None or not directory.is_dir():
        raise NotFound(f"{path!r} is not among the job's files")
    with files.opened(directory) as root:
        fd, st = files.open_for_reading(root, path, uid)
    return ranged(fd, st, range_, path)
