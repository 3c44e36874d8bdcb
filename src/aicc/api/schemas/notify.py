"""Notification preferences and webhooks."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from aicc.api.schemas.common import Out, Strict
from aicc.core.notify import Event


class ChannelChoice(Strict):
    email: bool = Field(True, description="Send this event by email (to the account's address).")
    webhook: bool = Field(True, description="POST this event to the account's webhooks.")


class Preferences(Out):
    lang: Literal["ko", "en"] = Field(description="Language of the messages.")
    events: dict[Event, ChannelChoice]
    bounced_address: str | None = Field(None, description="The address that bounced: no mail goes to it until "
                                                           "the account's email changes.")


class PreferencesUpdate(Strict):
    lang: Literal["ko", "en"] | None = None
    events: dict[Event, ChannelChoice] = Field(default_factory=dict, description="Only the events to change.")


class WebhookCreate(Strict):
    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://[^\s\x00]+$")


class Webhook(Out):
    id: int
    url: str
    active: bool
    created_at: dt.datetime


class WebhookCreated(Webhook):
    secret: str = Field(description="The HMAC-SHA256 key of X-AICC-Signature; shown once.")


class Delivery(Out):
    id: int
    outbox_id: int
    attempt: int
    status_code: int | None
    error: str | None
    outcome: str = Field(description="delivered, retry or failed.")
    at: dt.datetime
