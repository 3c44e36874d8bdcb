"""/api/v1/tokens: your own API tokens (center admins may issue for others)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from aicc.api.deps import DB, Actor, Config
from aicc.api.schemas.auth import Token, TokenCreate, TokenIssued
from aicc.api.schemas.common import MAX_ID, PathId
from aicc.services import tokens as svc

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.get("", response_model=list[Token])
def list_tokens(db: DB, actor: Actor, user_id: int | None = Query(None, ge=1, le=MAX_ID)) -> list[Token]:
    with db.read() as s:
        return [Token.model_validate(t) for t in svc.list_tokens(s, actor, user_id=user_id)]


@router.post("", response_model=TokenIssued, status_code=201)
def issue_token(db: DB, actor: Actor, settings: Config, body: TokenCreate) -> TokenIssued:
    with db.write() as s:
        issued = svc.issue(s, actor, user_id=body.user_id, name=body.name, ttl_days=body.ttl_days,
                           default_ttl_days=settings.token_ttl_days)
        return TokenIssued(**Token.model_validate(issued.row).model_dump(), token=issued.token)


@router.delete("/{token_id}", response_model=Token)
def revoke_token(db: DB, actor: Actor, token_id: PathId) -> Token:
    with db.write() as s:
        return Token.model_validate(svc.revoke(s, actor, token_id))
