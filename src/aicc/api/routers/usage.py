"""/api/v1/usage: balances per allocation, and the ledger as CSV."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime

from aicc.api.deps import DB, Actor, Config
from aicc.api.schemas.common import MAX_ID
from aicc.api.schemas.usage import Usage
from aicc.services import metering

router = APIRouter(prefix="/usage", tags=["usage"])
ProjectQ = Annotated[int | None, Query(ge=1, le=MAX_ID)]
TimeQ = Annotated[AwareDatetime | None, Query()]


@router.get("", response_model=list[Usage])
def usage(db: DB, actor: Actor, project_id: ProjectQ = None) -> list[Usage]:
    with db.read() as s:
        return [Usage.model_validate(u) for u in metering.summaries(s, actor, project_id=project_id)]


@router.get("/storage", response_model=list[dict[str, object]])
def storage(db: DB, actor: Actor, config: Config, project_id: ProjectQ = None) -> list[dict[str, object]]:
    """Workspace bytes per visible project beside its quota (the storage half of usage)."""
    from aicc.services.workspaces import storage_usage

    return storage_usage(db, config, actor, project_id)


@router.get("/ledger.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def ledger_csv(db: DB, actor: Actor, project_id: ProjectQ = None, since: TimeQ = None, until: TimeQ = None) -> Response:
    def utc(t: dt.datetime | None) -> dt.datetime | None:
        return t.astimezone(dt.UTC) if t else None

    with db.read() as s:
        rows = metering.ledger(s, actor, project_id=project_id, since=utc(since), until=utc(until))
        return Response(metering.ledger_csv(rows), media_type="text/csv")
