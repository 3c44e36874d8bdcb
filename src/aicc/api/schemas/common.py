"""Field types shared by request and response models.

Constraints live in the types so they appear in the OpenAPI document: clients
(and schemathesis) see exactly what the server accepts.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Annotated, ClassVar, Generic, Self, TypeVar

from fastapi import Path, Query
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from aicc.core.names import SLUG_PATTERN, USERNAME_PATTERN

MAX_ID = 2_147_483_647

Name = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, min_length=1, max_length=63)]
Username = Annotated[str, StringConstraints(pattern=USERNAME_PATTERN, min_length=1, max_length=32)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
LongText = Annotated[str, StringConstraints(max_length=10_000, pattern=r"^[^\x00]*$")]
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s\x00]+@[^@\s\x00]+$")]
Version = Annotated[int, Field(ge=1, le=MAX_ID, description="The version you read; a stale one gets 409.")]
Ident = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Cursor = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_=-]+$", description="From next_cursor.")]
NameFilter = Annotated[str | None, Query(max_length=63, pattern=r"^[a-z0-9_.-]+$", description="Name prefix.")]


def _sane_time(value: dt.datetime) -> dt.datetime:
    if not 2000 <= value.year <= 2200:
        raise ValueError("year must be between 2000 and 2200")
    return value.astimezone(dt.UTC)


Timestamp = Annotated[AwareDatetime, AfterValidator(_sane_time)]
"""A moment with its time zone (naive times are ambiguous at a center used across zones)."""


class Strict(BaseModel):
    """Requests: unknown fields are errors (a typo must not be silently ignored), no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=False)


class Patch(Strict):
    """A partial update: a field left out keeps its value; ``null`` is refused (422) unless the field may be
    empty (``NULLABLE``), so ``{"budget_su": null}`` is an error a user can read, not a crash."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null(self) -> Self:
        nulls = sorted(f for f in self.model_fields_set if getattr(self, f) is None and f not in self.NULLABLE)
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null; leave a field out to keep its value")
        return self


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last.")


def encode_cursor(after: int | None) -> str | None:
    return None if after is None else base64.urlsafe_b64encode(f"v1:{after}".encode()).decode()


class BadCursor(ValueError):
    pass


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        prefix, _, value = text.partition(":")
        after = int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadCursor("cursor is not one this server issued") from exc
    if prefix != "v1" or not 0 <= after <= MAX_ID:
        raise BadCursor("cursor is not one this server issued")
    return after
