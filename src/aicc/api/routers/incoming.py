"""/api/v1/organizations/{id}/incoming: custodians stream dataset files into the data root (resumable, SHA-256
checked, audited), then register them with ``POST /datasets`` and the returned ``register_path``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from aicc.api.deps import DB, Actor, Config
from aicc.api.routers.workspaces import stream_part, upload_out
from aicc.api.schemas.common import PathId
from aicc.api.schemas.workspaces import UploadCreate, UploadFinish, UploadOut, WsEntry, WsFile, WsListing, WsPathQuery
from aicc.core.workspaces import StorageFull
from aicc.services.datazone import incoming as svc
from aicc.workspaces import files, uploads

router = APIRouter(prefix="/organizations/{organization_id}/incoming", tags=["datazone"])


class IncomingFile(WsFile):
    register_path: str
    """Give this as ``path`` when registering the dataset (its directory, for a dataset of several files)."""


@router.get("", response_model=WsListing)
def list_incoming(db: DB, actor: Actor, config: Config, organization_id: PathId,
                  path: WsPathQuery = "") -> WsListing:
    inc = svc.open_incoming(db, config, actor, organization_id)
    with files.opened(inc.ws.files) as root:
        entries, hidden = files.list_dir(root, path)
    return WsListing(path=path, entries=[WsEntry(path=e.path, kind=e.kind, size=e.size, mtime=e.mtime)
                                         for e in entries], hidden=hidden)


@router.post("/uploads", response_model=UploadOut, status_code=201,
             responses={507: {"description": "the data root has no room for it: nothing was sent"}})
def start_dataset_upload(db: DB, actor: Actor, config: Config, organization_id: PathId,
                         body: UploadCreate) -> UploadOut:
    inc = svc.open_incoming(db, config, actor, organization_id)
    return upload_out(uploads.create(inc.ws, body.path, body.size, body.sha256, overwrite=body.overwrite,
                                     room=svc.room(config), user=actor.username))


@router.get("/uploads/{upload_id}", response_model=UploadOut)
def dataset_upload_status(db: DB, actor: Actor, config: Config, organization_id: PathId,
                          upload_id: str) -> UploadOut:
    return upload_out(uploads.status(svc.open_incoming(db, config, actor, organization_id).ws, upload_id))


@router.put("/uploads/{upload_id}", response_model=UploadOut)
async def send_dataset_part(request: Request, db: DB, actor: Actor, config: Config, organization_id: PathId,
                            upload_id: str, offset: Annotated[int, Query(ge=0, le=1 << 50)]) -> UploadOut:
    from anyio import to_thread

    inc = await to_thread.run_sync(svc.open_incoming, db, config, actor, organization_id)
    try:
        return await stream_part(request, inc.ws, upload_id, offset)
    except StorageFull as exc:  # the upload was discarded: audited like every removal
        data: dict[str, object] = {"upload_id": upload_id, "reason": exc.detail}
        await to_thread.run_sync(svc.record, db, actor, inc, data, "dataset.upload_discard")
        raise


@router.post("/uploads/{upload_id}/finish", response_model=IncomingFile)
def finish_dataset_upload(db: DB, actor: Actor, config: Config, organization_id: PathId, upload_id: str,
                          body: UploadFinish) -> IncomingFile:
    """Verify the SHA-256 and keep the file; an audit event records who uploaded what, with its digest."""
    inc = svc.open_incoming(db, config, actor, organization_id)
    entry, digest = uploads.finish(inc.ws, upload_id, body.sha256)
    svc.record(db, actor, inc, {"path": entry.path, "size": entry.size, "sha256": digest})
    return IncomingFile(path=entry.path, size=entry.size, sha256=digest, register_path=inc.register_path(entry.path))


@router.delete("/uploads/{upload_id}", status_code=204)
def abort_dataset_upload(db: DB, actor: Actor, config: Config, organization_id: PathId, upload_id: str) -> Response:
    uploads.abort(svc.open_incoming(db, config, actor, organization_id).ws, upload_id)
    return Response(status_code=204)
