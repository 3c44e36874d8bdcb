"""/api/v1/datasets, /grants, /outputs: the secure data zone."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from aicc.api.deps import DB, Actor, Config
from aicc.api.schemas.common import MAX_ID, PathId
from aicc.api.schemas.datazone import (
    Dataset,
    DatasetRegister,
    FileDecision,
    Grant,
    GrantDecision,
    GrantRequest,
    GrantRevoke,
    OutputFile,
    OutputRequest,
    RevokeResult,
)
from aicc.core.datazone import states
from aicc.services.datazone import datasets, grants, outputs
from aicc.services.datazone.files import content_disposition
from aicc.store.models import DatasetRow, OutputFileRow, OutputRequestRow

router = APIRouter(tags=["data zone"])
OptId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def _dataset(ds: DatasetRow) -> Dataset:
    files = (ds.manifest or {}).get("published") or (ds.manifest or {}).get("source") or {}
    out = Dataset.model_validate(ds)
    out.files = len(files)
    out.bytes = sum(int(f["bytes"]) for f in files.values())
    return out


@router.get("/datasets", response_model=list[Dataset])
def list_datasets(db: DB, actor: Actor) -> list[Dataset]:
    """Open published datasets, and sensitive ones your organization holds or your project is granted."""
    with db.read() as s:
        return [_dataset(d) for d in datasets.list_datasets(s, actor)]


@router.post("/datasets", response_model=Dataset, status_code=201)
def register_dataset(db: DB, actor: Actor, settings: Config, body: DatasetRegister) -> Dataset:
    """Register a directory under the data root: checksums, column roles and a k-anonymity report."""
    with db.write() as s:
        ds = datasets.register(
            s, actor, settings, organization_id=body.organization_id, name=body.name, title=body.title,
            description=body.description, classification=body.classification, path=body.path,
            columns=[c.model_dump() for c in body.columns], pseudonymize_ids=body.pseudonymize, k_required=body.k,
            sdc=body.sdc.model_dump(exclude_none=True))
        return _dataset(ds)


@router.get("/datasets/{dataset_id}", response_model=Dataset)
def get_dataset(db: DB, actor: Actor, dataset_id: PathId) -> Dataset:
    with db.read() as s:
        return _dataset(datasets.get(s, actor, dataset_id))


@router.post("/datasets/{dataset_id}/publish", response_model=Dataset)
def publish_dataset(db: DB, actor: Actor, settings: Config, dataset_id: PathId) -> Dataset:
    """Verify checksums, pseudonymise if asked, require k-anonymity; then grantees may use it."""
    with db.write() as s:
        return _dataset(datasets.publish(s, actor, settings, dataset_id))


@router.post("/datasets/{dataset_id}/withdraw", response_model=Dataset)
def withdraw_dataset(db: DB, actor: Actor, dataset_id: PathId) -> Dataset:
    with db.write() as s:
        return _dataset(datasets.withdraw(s, actor, dataset_id))


@router.get("/grants", response_model=list[Grant])
def list_grants(db: DB, actor: Actor, dataset_id: OptId = None, project_id: OptId = None) -> list[Grant]:
    with db.read() as s:
        return [Grant.model_validate(g) for g in grants.list_grants(s, actor, dataset_id=dataset_id,
                                                                   project_id=project_id)]


@router.post("/grants", response_model=Grant, status_code=201)
def request_grant(db: DB, actor: Actor, body: GrantRequest) -> Grant:
    """A project asks for a sensitive dataset, for a purpose, until an expiry; its custodian decides."""
    with db.write() as s:
        return Grant.model_validate(grants.request(s, actor, dataset_name=body.dataset, project_id=body.project_id,
                                                   purpose=body.purpose, expires_at=body.expires_at))


@router.post("/grants/{grant_id}/decision", response_model=Grant)
def decide_grant(db: DB, actor: Actor, grant_id: PathId, body: GrantDecision) -> Grant:
    with db.write() as s:
        return Grant.model_validate(grants.decide(s, actor, grant_id, approve=body.approve, comment=body.comment,
                                                  expires_at=body.expires_at))


@router.post("/grants/{grant_id}/revoke", response_model=RevokeResult)
def revoke_grant(db: DB, actor: Actor, grant_id: PathId, body: GrantRevoke) -> RevokeResult:
    """New jobs stop at once; with stop_running, running ones are cancelled too."""
    with db.write() as s:
        stopped = grants.revoke(s, actor, grant_id, comment=body.comment, stop_running=body.stop_running)
        return RevokeResult(grant=Grant.model_validate(grants.get(s, actor, grant_id)), stopped_jobs=stopped)


def _request(s: Session, req: OutputRequestRow, access: outputs.Access) -> OutputRequest:
    shown, held = outputs.visible_files(s, access, req.id)
    out = OutputRequest.model_validate(req)
    out.files = [_file(f, access) for f in shown]
    out.held_files, out.released_files = held, sum(1 for f in shown if f.decision == states.FileDecision.APPROVED)
    out.note = outputs.HELD_NOTE if out.released_files < held and req.state != "decided" else ""
    return out


def _file(f: OutputFileRow, access: outputs.Access) -> OutputFile:
    out = OutputFile.model_validate(f)
    if not access.custodian:
        out.check_status, out.check_reasons = None, None
    return out


@router.get("/outputs", response_model=list[OutputRequest])
def list_outputs(db: DB, actor: Actor, project_id: OptId = None,
                 state: states.OutputState | None = None) -> list[OutputRequest]:
    """Output requests of your projects' jobs, and those awaiting you as a custodian."""
    with db.read() as s:
        return [_request(s, r, outputs.access(s, actor, r))
                for r in outputs.list_requests(s, actor, project_id=project_id, state=state)]


@router.get("/outputs/{request_id}", response_model=OutputRequest)
def get_output(db: DB, actor: Actor, request_id: PathId) -> OutputRequest:
    with db.read() as s:
        return _request(s, *outputs.get(s, actor, request_id))


@router.post("/outputs/{request_id}/files/{file_id}/decision", response_model=OutputFile)
def decide_file(db: DB, actor: Actor, settings: Config, request_id: PathId, file_id: PathId,
                body: FileDecision) -> OutputFile:
    """A custodian approves or rejects one file; only approved files can be downloaded by the project."""
    with db.write() as s:
        return OutputFile.model_validate(outputs.decide(s, actor, settings, request_id, file_id,
                                                        approve=body.approve, comment=body.comment))


@router.get("/outputs/{request_id}/files/{file_id}/content", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}})
def download_file(db: DB, actor: Actor, settings: Config, request_id: PathId, file_id: PathId) -> Response:
    """The file's bytes: released files for the project; any held file for its custodians (audited)."""
    with db.write() as s:
        name, data = outputs.read(s, actor, settings, request_id, file_id)
    return Response(data, media_type="application/octet-stream",
                    headers={"Content-Disposition": content_disposition(name),
                             "X-Content-Type-Options": "nosniff"})
