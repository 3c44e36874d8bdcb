"""Wire models for API tokens."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from aicc.api.schemas.common import Ident, Out, Strict, Title


class TokenCreate(Strict):
    name: Title = Field(description="What the token is for, e.g. `laptop` or `ci`.")
    ttl_days: int | None = Field(None, ge=1, le=3650, description="Lifetime; the server default if omitted.")
    user_id: Ident | None = Field(None, description="Issue for another user (center admins only).")


class Token(Out):
    id: int
    name: str
    user_id: int
    public_id: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class TokenIssued(Token):
    token: str = Field(description="The secret. Shown only now: store it, the server keeps only a hash.")
