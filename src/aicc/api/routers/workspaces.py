"""/api/v1/projects/{id}/workspace: list, download (with Range), resumable upload, remove and move files.

Uploads are three steps so any size goes through without the server holding it: ``POST uploads`` declares
path, size and SHA-256 (refused over quota before a byte is sent), ``PUT uploads/{id}?offset=N`` streams a
part (repeat from ``GET uploads/{id}``'s offset after a broken connection), ``POST uploads/{id}/finish``
verifies the checksum and puts the file in place. Part bodies are exempt from the request-size limit
(``STREAMED``): they go to disk as they arrive and may not pass the declared size.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect

from aicc.api.deps import DB, Actor, Config
from aicc.api.problems import problem
from aicc.api.schemas.common import PathId
from aicc.api.schemas.workspaces import (
    UploadCreate,
    UploadFinish,
    UploadOut,
    WorkspaceInfo,
    WsEntry,
    WsFile,
    WsListing,
    WsMove,
    WsPathQuery,
)
from aicc.core.errors import InvalidInput
from aicc.core.workspaces import StorageFull, parse_range
from aicc.services import workspaces as svc
from aicc.workspaces import files, uploads
from aicc.workspaces.layout import Workspace

router = APIRouter(prefix="/projects/{project_id}/workspace", tags=["workspaces"])
STREAMED = re.compile(r"^(/api/v1)?/(projects/\d+/workspace|organizations/\d+/incoming)/uploads/[0-9a-f]{32}$")
"""Request paths whose bodies are streamed to disk, not limited by AICC_MAX_BODY_BYTES (API and portal)."""
WRITE_BATCH = 4 << 20


def upload_out(u: uploads.Upload) -> UploadOut:
    return UploadOut(id=u.id, path=u.path, size=u.size, offset=u.offset, sha256=u.sha256)


@router.get("", response_model=WorkspaceInfo)
def info(db: DB, actor: Actor, config: Config, project_id: PathId) -> WorkspaceInfo:
    """Quota, usage and whether the file system enforces the quota."""
    return WorkspaceInfo.model_validate(svc.summary(config, svc.open_workspace(db, config, actor, project_id)))


@router.get("/list", response_model=WsListing)
def list_files(db: DB, actor: Actor, config: Config, project_id: PathId, path: WsPathQuery = "") -> WsListing:
    opened = svc.open_workspace(db, config, actor, project_id)
    with files.opened(opened.ws.files) as root:
        entries, hidden = files.list_dir(root, path)
    return WsListing(path=path, entries=[WsEntry(path=e.path, kind=e.kind, size=e.size, mtime=e.mtime)
                                         for e in entries], hidden=hidden)


@router.get("/checksum", response_model=WsFile)
def checksum(db: DB, actor: Actor, config: Config, project_id: PathId, path: WsPathQuery) -> WsFile:
    """SHA-256 of a file, to verify a download end to end."""
    opened = svc.open_workspace(db, config, actor, project_id)
    with files.opened(opened.ws.files) as root:
        digest = uploads.checksum(root, path, opened.ws.uid)
        entry = files.stat_path(root, path)
    return WsFile(path=path, size=entry.size, sha256=digest)


@router.get("/content", response_class=Response, responses={206: {"description": "the requested range"},
                                                             416: {"description": "range not satisfiable"}})
def download(db: DB, actor: Actor, config: Config, project_id: PathId, path: WsPathQuery,
             range_: Annotated[str | None, Header(alias="Range", max_length=200)] = None) -> Response:
    """The file's bytes, streamed; one ``Range: bytes=a-b`` is honoured (resume a broken download)."""
    opened = svc.open_workspace(db, config, actor, project_id)
    with files.opened(opened.ws.files) as root:
        fd, st = files.open_for_reading(root, path, opened.ws.uid)
    return ranged(fd, st, range_, path)


def ranged(fd: int, st: os.stat_result, range_: str | None, path: str) -> Response:
    """Stream an open file (whole, or the one range asked for); the response closes ``fd``."""
    try:
        span = parse_range(range_, st.st_size)
    except ValueError as exc:
        os.close(fd)
        refused = problem(416, "Range not satisfiable", str(exc))
        refused.headers["Content-Range"] = f"bytes */{st.st_size}"
        return refused
    start, end = span if span is not None else (0, st.st_size - 1)
    name = urllib.parse.quote(path.rsplit("/", 1)[-1])
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(max(end - start + 1, 0)),
               "Content-Disposition": f"attachment; filename*=UTF-8''{name}"}
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{st.st_size}"
    return StreamingResponse(files.read_range(fd, start, end), status_code=206 if span else 200,
                             media_type="application/octet-stream", headers=headers)


@router.post("/uploads", response_model=UploadOut, status_code=201,
             responses={507: {"description": "over the workspace quota, or the disk has no room: nothing was sent"}})
def start_upload(db: DB, actor: Actor, config: Config, project_id: PathId, body: UploadCreate) -> UploadOut:
    opened = svc.open_workspace(db, config, actor, project_id)
    return upload_out(uploads.create(opened.ws, body.path, body.size, body.sha256, overwrite=body.overwrite,
                                  room=svc.room(config, opened), user=actor.username))


@router.get("/uploads/{upload_id}", response_model=UploadOut)
def upload_status(db: DB, actor: Actor, config: Config, project_id: PathId, upload_id: str) -> UploadOut:
    """Where to resume: ``offset`` is how many bytes the server holds."""
    opened = svc.open_workspace(db, config, actor, project_id)
    return upload_out(uploads.status(opened.ws, upload_id))


@router.put("/uploads/{upload_id}", response_model=UploadOut,
            responses={409: {"description": "offset is not where the upload stands"}})
async def send_part(request: Request, db: DB, actor: Actor, config: Config, project_id: PathId, upload_id: str,
                    offset: Annotated[int, Query(ge=0, le=1 << 50)]) -> UploadOut:
    """Append the body at ``offset``. A connection that breaks keeps what arrived: ask for the offset. A full
    disk (507) discards the upload, with an audit event."""
    opened = await to_thread.run_sync(svc.open_workspace, db, config, actor, project_id)
    try:
        return await stream_part(request, opened.ws, upload_id, offset)
    except StorageFull as exc:
        data: dict[str, object] = {"upload_id": upload_id, "reason": exc.detail}
        await to_thread.run_sync(svc.record, db, actor, opened, "upload_discard", data)
        raise


async def stream_part(request: Request, ws: Workspace, upload_id: str, offset: int) -> UploadOut:
    """The body to the upload's part file as it arrives, 4 MiB at a time (memory stays flat)."""
    writer = await to_thread.run_sync(uploads.PartWriter, ws, upload_id, offset)
    length = request.headers.get("content-length")
    try:
        if length is not None and (not length.isdigit() or offset + int(length) > writer.upload.size):
            raise InvalidInput(f"this part goes past the declared size of {writer.upload.size} bytes")
        buf = bytearray()
        try:
            async for chunk in request.stream():
                buf += chunk
                if len(buf) >= WRITE_BATCH:
                    await to_thread.run_sync(writer.write, buf)
                    buf = bytearray()
        except ClientDisconnect:
            pass  # keep what arrived; the client resumes from the offset
        if buf:
            await to_thread.run_sync(writer.write, buf)
    finally:
        await to_thread.run_sync(writer.close)
    return upload_out(await to_thread.run_sync(uploads.status, ws, upload_id))


@router.post("/uploads/{upload_id}/finish", response_model=WsFile)
def finish_upload(db: DB, actor: Actor, config: Config, project_id: PathId, upload_id: str,
                  body: UploadFinish) -> WsFile:
    """Verify the SHA-256 (given here or when the upload began) and put the file in place."""
    opened = svc.open_workspace(db, config, actor, project_id)
    entry, digest = uploads.finish(opened.ws, upload_id, body.sha256)
    svc.record(db, actor, opened, "upload", {"path": entry.path, "size": entry.size, "sha256": digest})
    return WsFile(path=entry.path, size=entry.size, sha256=digest)


@router.delete("/uploads/{upload_id}", status_code=204)
def abort_upload(db: DB, actor: Actor, config: Config, project_id: PathId, upload_id: str) -> Response:
    opened = svc.open_workspace(db, config, actor, project_id)
    uploads.abort(opened.ws, upload_id)
    return Response(status_code=204)


@router.delete("/files", response_model=WsEntry)
def remove(db: DB, actor: Actor, config: Config, project_id: PathId, path: WsPathQuery,
           recursive: bool = False) -> WsEntry:
    opened = svc.open_workspace(db, config, actor, project_id)
    with files.opened(opened.ws.files) as root:
        e = files.remove(root, path, recursive=recursive)
    svc.record(db, actor, opened, "remove", {"path": e.path, "kind": e.kind, "recursive": recursive})
    return WsEntry(path=e.path, kind=e.kind, size=e.size, mtime=e.mtime)


@router.post("/move", response_model=WsEntry)
def move(db: DB, actor: Actor, config: Config, project_id: PathId, body: WsMove) -> WsEntry:
    opened = svc.open_workspace(db, config, actor, project_id)
    with files.opened(opened.ws.files) as root:
        e = files.move(root, body.src, body.dst, uid=opened.ws.uid)
    svc.record(db, actor, opened, "move", {"src": body.src, "dst": body.dst})
    return WsEntry(path=e.path, kind=e.kind, size=e.size, mtime=e.mtime)

