"""A user's webhook endpoints and their delivery log. Only the owner sees or changes them."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.core.errors import InvalidInput, NotFound
from aicc.services import audit
from aicc.services.principal import Principal
from aicc.store.models import WebhookDeliveryRow, WebhookEndpointRow

MAX_PER_USER = 10


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.username or parts.password:
        raise InvalidInput("a webhook URL is http(s)://host/path, without credentials in it")
    return url


def create(s: Session, actor: Principal, url: str) -> tuple[WebhookEndpointRow, str]:
    """The endpoint and its signing secret, shown this once."""
    count = len(list(s.execute(select(WebhookEndpointRow.id).where(WebhookEndpointRow.user_id == actor.user_id))))
    if count >= MAX_PER_USER:
        raise InvalidInput(f"at most {MAX_PER_USER} webhooks per user")
    secret = "whsec_" + secrets.token_urlsafe(32)
    row = WebhookEndpointRow(user_id=actor.user_id, url=_check_url(url), secret=secret)
    s.add(row)
    s.flush()
    audit.record(s, actor, "webhook.create", "webhook", row.id, data={"url": url})
    return row, secret


def mine(s: Session, actor: Principal) -> list[WebhookEndpointRow]:
    return list(s.execute(select(WebhookEndpointRow).where(WebhookEndpointRow.user_id == actor.user_id)
                          .order_by(WebhookEndpointRow.id)).scalars())


def get(s: Session, actor: Principal, endpoint_id: int) -> WebhookEndpointRow:
    row = s.get(WebhookEndpointRow, endpoint_id)
    if row is None or row.user_id != actor.user_id:
        raise NotFound("webhook not found")
    return row


def remove(s: Session, actor: Principal, endpoint_id: int) -> None:
    row = get(s, actor, endpoint_id)
    s.delete(row)
    audit.record(s, actor, "webhook.delete", "webhook", endpoint_id, data={"url": row.url})


def deliveries(s: Session, actor: Principal, endpoint_id: int, limit: int = 100) -> list[WebhookDeliveryRow]:
    get(s, actor, endpoint_id)
    return list(s.execute(select(WebhookDeliveryRow).where(WebhookDeliveryRow.endpoint_id == endpoint_id)
                          .order_by(WebhookDeliveryRow.id.desc()).limit(limit)).scalars())
