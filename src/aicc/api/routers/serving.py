"""/api/v1/services: always-on model endpoints (create, update, rollback, scale, keys, events)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session

from aicc.api.deps import DB, Actor, Config
from aicc.api.schemas.common import MAX_ID, PathId
from aicc.api.schemas.serving import (
    Key,
    KeyCreate,
    KeyIssued,
    Replica,
    Revision,
    Service,
    ServiceCreate,
    ServiceDetail,
    ServiceEvent,
    ServiceScale,
    ServiceUpdate,
)
from aicc.core.errors import NotFound
from aicc.services import jobs as job_svc
from aicc.services.serving import catalog as svc
from aicc.services.serving import keys as key_svc
from aicc.store.models import ProjectRow, ServiceRow

router = APIRouter(prefix="/services", tags=["services"])


def _view(s: Session, row: ServiceRow) -> Service:
    project = s.get(ProjectRow, row.project_id)
    out = Service.model_validate(row)
    out.address = f"/svc/{project.name if project else row.project_id}/{row.name}/"
    return out


def _detail(s: Session, row: ServiceRow) -> ServiceDetail:
    return ServiceDetail(**_view(s, row).model_dump(), current=Revision.model_validate(svc.revision(s, row)),
                         live_replicas=[Replica.model_validate(j) for j in svc.replicas(s, row.id)])


@router.post("", response_model=ServiceDetail, status_code=201)
def create_service(db: DB, actor: Actor, settings: Config, body: ServiceCreate) -> ServiceDetail:
    with db.write() as s:
        project_id = body.project_id
        if project_id is None:
            ref = job_svc.load_reference(s)
            project_id = next((pid for pid, (_, name) in ref.projects.items() if name == body.project), None)
            if project_id is None:
                raise NotFound(f"project {body.project!r} not found")
        row = svc.create(s, actor, settings, svc.ServiceSpec(
            project_id=project_id, name=body.name, replicas=body.replicas, min_replicas=body.min_replicas,
            max_replicas=body.max_replicas, target_in_flight=body.target_in_flight,
            revision=svc.RevisionSpec(command=body.command, port=body.port, health_path=body.health,
                                      image=body.image, flavors=body.flavors, accelerators=body.accelerators,
                                      cpus=body.cpus, memory_mb=body.memory_mb, env=body.env)))
        return _detail(s, row)


@router.get("", response_model=list[Service])
def list_services(db: DB, actor: Actor, project_id: int | None = Query(None, ge=1, le=MAX_ID),
                  name: str | None = Query(None, max_length=63)) -> list[Service]:
    with db.read() as s:
        rows = svc.list_services(s, actor, project_id)
        return [_view(s, r) for r in rows if name is None or r.name == name]


@router.get("/{service_id}", response_model=ServiceDetail)
def show_service(db: DB, actor: Actor, service_id: PathId) -> ServiceDetail:
    with db.read() as s:
        return _detail(s, svc.get(s, actor, service_id))


@router.post("/{service_id}/revisions", response_model=ServiceDetail, status_code=201)
def update_service(db: DB, actor: Actor, settings: Config, service_id: PathId, body: ServiceUpdate) -> ServiceDetail:
    """A new revision (image, command, port, health or environment); replicas roll to it one at a time."""
    with db.write() as s:
        row = svc.update(s, actor, settings, service_id, image=body.image, command=body.command, env=body.env,
                         port=body.port, health_path=body.health)
        return _detail(s, row)


@router.post("/{service_id}/rollback", response_model=ServiceDetail)
def rollback_service(db: DB, actor: Actor, service_id: PathId) -> ServiceDetail:
    with db.write() as s:
        return _detail(s, svc.rollback(s, actor, service_id))


@router.post("/{service_id}/scale", response_model=ServiceDetail)
def scale_service(db: DB, actor: Actor, service_id: PathId, body: ServiceScale) -> ServiceDetail:
    with db.write() as s:
        return _detail(s, svc.scale(s, actor, service_id, replicas=body.replicas, min_replicas=body.min_replicas,
                                    max_replicas=body.max_replicas))


@router.post("/{service_id}/stop", response_model=ServiceDetail)
def stop_service(db: DB, actor: Actor, service_id: PathId) -> ServiceDetail:
    """Stop every replica (nothing is charged while stopped); revisions and keys stay for ``start``."""
    with db.write() as s:
        return _detail(s, svc.halt(s, actor, service_id))


@router.post("/{service_id}/start", response_model=ServiceDetail)
def start_service(db: DB, actor: Actor, service_id: PathId) -> ServiceDetail:
    """Run a stopped or failed service again (after a budget top-up or a fix)."""
    with db.write() as s:
        return _detail(s, svc.start(s, actor, service_id))


@router.delete("/{service_id}", response_model=Service)
def delete_service(db: DB, actor: Actor, service_id: PathId) -> Service:
    with db.write() as s:
        return _view(s, svc.delete(s, actor, service_id))


@router.get("/{service_id}/events", response_model=list[ServiceEvent])
def service_events(db: DB, actor: Actor, service_id: PathId, after: int = Query(0, ge=0, le=MAX_ID),
                   limit: int = Query(200, ge=1, le=1000)) -> list[ServiceEvent]:
    with db.read() as s:
        return [ServiceEvent.model_validate(e) for e in svc.events(s, actor, service_id, after=after, limit=limit)]


@router.get("/{service_id}/keys", response_model=list[Key])
def list_keys(db: DB, actor: Actor, service_id: PathId) -> list[Key]:
    with db.read() as s:
        return [Key.model_validate(k) for k in key_svc.list_keys(s, actor, service_id)]


@router.post("/{service_id}/keys", response_model=KeyIssued, status_code=201)
def create_key(db: DB, actor: Actor, service_id: PathId, body: KeyCreate) -> KeyIssued:
    with db.write() as s:
        issued = key_svc.create(s, actor, service_id, name=body.name, rate_per_s=body.rate_per_s, burst=body.burst)
        return KeyIssued(**Key.model_validate(issued.row).model_dump(), key=issued.key)


@router.delete("/{service_id}/keys/{key_id}", response_model=Key)
def revoke_key(request: Request, db: DB, actor: Actor, service_id: PathId, key_id: PathId) -> Key:
    """Refused at once by this server's gateway, within a second by every other server's."""
    with db.write() as s:
        out = Key.model_validate(key_svc.revoke(s, actor, service_id, key_id))
    gateway = getattr(request.app.state, "gateway", None)
    if gateway is not None:
        gateway.forget_key(key_id)
    return out
