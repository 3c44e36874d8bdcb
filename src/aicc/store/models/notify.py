"""Notifications: the outbox (written in the command's own transaction), preferences, webhook endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from aicc.store.models.base import Base, UTCDateTime, utcnow


class OutboxRow(Base):
    """One message to deliver on one channel. Written by the command that caused it, in its transaction,
    so a rolled-back command sends nothing; delivered later by the notification worker."""

    __tablename__ = "notification_outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    """event/object/recipient/channel: the same event never queues twice (e.g. a retried controller cycle);
    also sent as Message-ID / X-AICC-Delivery so a receiver can drop a duplicate after a crash mid-send."""
    event: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    """email or webhook."""
    target: Mapped[str] = mapped_column(String(254))
    """The email address, or the webhook endpoint's id."""
    lang: Mapped[str] = mapped_column(String(8), default="en")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    """pending → sent / failed (retries spent) / bounced (the address is refused)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    """Also the claim: a worker moves it forward by a lease before sending, so two workers never send one row."""
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class NotificationPrefRow(Base):
    """A user's choice for one event kind; no row: the event's default (core.notify.DEFAULTS)."""

    __tablename__ = "notification_prefs"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    event: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[bool] = mapped_column(Boolean, default=True)
    webhook: Mapped[bool] = mapped_column(Boolean, default=True)


class NotificationProfileRow(Base):
    """Per user: the language of messages, and whether the address bounced (then no more mail to it)."""

    __tablename__ = "notification_profiles"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    lang: Mapped[str] = mapped_column(String(8), default="ko")
    bounced_address: Mapped[str | None] = mapped_column(String(254))
    bounced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class WebhookEndpointRow(Base):
    """A user's webhook: signed POSTs of the events they chose."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(100))
    """The HMAC key, shown once at creation. Kept as is: the server must compute signatures with it."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDeliveryRow(Base):
    """One attempt to deliver one outbox row to an endpoint: the endpoint's delivery log."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("notification_outbox.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(16))
    """delivered, retry, or failed (the last attempt)."""
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class JobNotifyRow(Base):
    """A job's opt-in (``aicc submit --notify end,fail``): whom to tell, about which endings."""

    __tablename__ = "job_notify"
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    events: Mapped[str] = mapped_column(String(40))
    """Comma list of end, fail."""
