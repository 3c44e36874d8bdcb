"""Request-scoped dependencies: the database and the authenticated principal."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from aicc.config import Settings
from aicc.services import tokens
from aicc.services.principal import Principal
from aicc.store.db import Database

_bearer = HTTPBearer(auto_error=False, description="An API token: `aicc token create` or `aicc login`.")


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_principal(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """Async so a cached token costs no trip through the thread pool (the submission hot path)."""
    if creds is None or creds.scheme.lower() != "bearer" or len(creds.credentials) > 200:
        raise tokens.Unauthenticated()
    hit = tokens.cached(creds.credentials)
    if hit is not None:
        return hit
    db = get_db(request)

    def lookup() -> Principal:
        with db.read() as s:
            return tokens.authenticate(s, creds.credentials)

    return await asyncio.to_thread(lookup)


DB = Annotated[Database, Depends(get_db)]
Actor = Annotated[Principal, Depends(get_principal)]
Config = Annotated[Settings, Depends(get_settings)]
