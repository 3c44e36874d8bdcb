"""/api/v1/audit: the tamper-evident log, its verification (key and anchors) and export."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from aicc.api.deps import DB, Actor
from aicc.api.schemas.common import MAX_ID, Limit
from aicc.api.schemas.inventory import AuditEvent, AuditProblem, AuditVerification
from aicc.services import audit as svc

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=list[AuditEvent])
def list_events(
    db: DB, actor: Actor, limit: Limit = 100, after: int | None = Query(None, ge=0, le=2**62),
    organization_id: int | None = Query(None, ge=1, le=MAX_ID),
    action: str | None = Query(None, max_length=64, pattern=r"^[a-z_.]+$"),
) -> list[AuditEvent]:
    with db.read() as s:
        rows = svc.list_events(s, actor, after=after, limit=limit, organization_id=organization_id, action=action)
        return [AuditEvent.model_validate(r) for r in rows]


@router.get("/export.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export_events(db: DB, actor: Actor, limit: int = Query(100_000, ge=1, le=1_000_000)) -> Response:
    with db.read() as s:
        rows = svc.list_events(s, actor, after=None, limit=limit)
        return Response(svc.export_csv(rows), media_type="text/csv")


@router.get("/verify", response_model=AuditVerification)
def verify(db: DB, actor: Actor) -> AuditVerification:
    """Recompute every MAC with the key, follow the links, and compare with the anchors outside the database."""
    with db.read() as s:
        v = svc.verify(s, actor)
    return AuditVerification(intact=v.intact, events=v.events, more_problems=v.more_problems, anchors=v.anchors,
                             keyed_from=v.keyed_from,
                             problems=[AuditProblem(seq=p.seq, problem=p.problem) for p in v.problems])
