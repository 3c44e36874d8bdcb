"""/api/v1/notifications: your notification preferences, your webhooks and their delivery log."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from aicc.api.deps import DB, Actor
from aicc.api.schemas.common import PathId
from aicc.api.schemas.notify import (
    ChannelChoice,
    Delivery,
    Preferences,
    PreferencesUpdate,
    Webhook,
    WebhookCreate,
    WebhookCreated,
)
from aicc.services.notify import outbox, webhooks

router = APIRouter(prefix="/notifications", tags=["notifications"])


def _prefs(s: Session, user_id: int) -> Preferences:
    p = outbox.profile(s, user_id)
    return Preferences(lang="en" if p.lang == "en" else "ko", bounced_address=p.bounced_address, events={
        e: ChannelChoice(email=email, webhook=hook) for e, (email, hook) in outbox.preferences(s, user_id).items()})


@router.get("/preferences", response_model=Preferences)
def get_preferences(db: DB, actor: Actor) -> Preferences:
    with db.write() as s:  # writes the profile row on first read
        return _prefs(s, actor.user_id)


@router.put("/preferences", response_model=Preferences)
def set_preferences(db: DB, actor: Actor, body: PreferencesUpdate) -> Preferences:
    with db.write() as s:
        if body.lang:
            outbox.set_language(s, actor.user_id, body.lang)
        for event, choice in body.events.items():
            outbox.set_preference(s, actor.user_id, event, email=choice.email, webhook=choice.webhook)
        s.flush()
        return _prefs(s, actor.user_id)


@router.get("/webhooks", response_model=list[Webhook])
def list_webhooks(db: DB, actor: Actor) -> list[Webhook]:
    with db.read() as s:
        return [Webhook.model_validate(w) for w in webhooks.mine(s, actor)]


@router.post("/webhooks", response_model=WebhookCreated, status_code=201)
def create_webhook(db: DB, actor: Actor, body: WebhookCreate) -> WebhookCreated:
    with db.write() as s:
        row, secret = webhooks.create(s, actor, body.url)
        return WebhookCreated(**Webhook.model_validate(row).model_dump(), secret=secret)


@router.delete("/webhooks/{webhook_id}", status_code=204)
def delete_webhook(db: DB, actor: Actor, webhook_id: PathId) -> Response:
    with db.write() as s:
        webhooks.remove(s, actor, webhook_id)
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[Delivery])
def webhook_deliveries(db: DB, actor: Actor, webhook_id: PathId) -> list[Delivery]:
    with db.read() as s:
        return [Delivery.model_validate(d) for d in webhooks.deliveries(s, actor, webhook_id)]
