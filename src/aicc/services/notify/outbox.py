"""Queueing notifications: who gets which event on which channel, written in the caller's transaction.

Nothing is sent here and nothing here touches the network: a command stays as fast as it was, a rolled-back
command leaves no message, and the worker (``delivery.py``) sends what committed. The dedup key makes
queueing idempotent, so a retried controller cycle or a second threshold check never queues an event twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from aicc.core.notify import Channel, Event, render
from aicc.store.models import (
    NotificationPrefRow,
    NotificationProfileRow,
    OutboxRow,
    UserRow,
    WebhookEndpointRow,
    utcnow,
)

DEFAULT_LANG = "ko"


@dataclass(frozen=True, slots=True)
class Notice:
    """One event for one user; ``key`` names the object (job 41, allocation 7 at 80 %) for deduplication."""

    event: Event
    user_id: int
    key: str
    params: Mapping[str, object]


def delivery_id(dedup_key: str) -> str:
    """A stable id per message (Message-ID, X-AICC-Delivery): a copy sent twice after a crash is recognisable."""
    return hashlib.sha256(dedup_key.encode()).hexdigest()[:32]


def queue(s: Session, notices: Iterable[Notice], *, base_url: str = "") -> int:
    """Queue ``notices`` on each user's channels (preferences, bounced address, webhooks); returns rows added."""
    notices = list(notices)
    if not notices:
        return 0
    user_ids = {n.user_id for n in notices}
    users = {u.id: u for u in s.execute(select(UserRow).where(UserRow.id.in_(user_ids))).scalars()}
    profiles = {p.user_id: p for p in s.execute(select(NotificationProfileRow).where(
        NotificationProfileRow.user_id.in_(user_ids))).scalars()}
    prefs = {(p.user_id, p.event): p for p in s.execute(select(NotificationPrefRow).where(
        NotificationPrefRow.user_id.in_(user_ids))).scalars()}
    hooks: dict[int, list[int]] = {}
    for h in s.execute(select(WebhookEndpointRow).where(WebhookEndpointRow.user_id.in_(user_ids),
                                                       WebhookEndpointRow.active.is_(True))).scalars():
        hooks.setdefault(h.user_id, []).append(h.id)
    rows: dict[str, dict[str, object]] = {}
    now = utcnow()
    for n in notices:
        user = users.get(n.user_id)
        if user is None or user.disabled:
            continue
        profile = profiles.get(n.user_id)
        lang = profile.lang if profile else DEFAULT_LANG
        pref = prefs.get((n.user_id, n.event.value))
        subject, body = render(n.event, lang, {"url": base_url, **n.params})
        payload = {"subject": subject, "body": body, "data": dict(n.params)}
        targets: list[tuple[Channel, str]] = []
        bounced = profile is not None and profile.bounced_address == user.email
        if user.email and not bounced and (pref is None or pref.email):
            targets.append((Channel.EMAIL, user.email))
        if pref is None or pref.webhook:
            targets += [(Channel.WEBHOOK, str(h)) for h in hooks.get(n.user_id, [])]
        for channel, target in targets:
            key = f"{n.event.value}:{n.key}:{n.user_id}:{channel.value}:{target}"[:200]
            rows[key] = {"dedup_key": key, "event": n.event.value, "user_id": n.user_id, "channel": channel.value,
                         "target": target, "lang": lang, "payload": payload, "state": "pending", "attempts": 0,
                         "next_attempt_at": now, "created_at": now}
    if not rows:
        return 0
    existing: set[str] = set()
    keys = list(rows)
    for i in range(0, len(keys), 500):
        existing |= set(s.execute(select(OutboxRow.dedup_key).where(OutboxRow.dedup_key.in_(keys[i:i + 500])))
                        .scalars())
    fresh = [r for k, r in rows.items() if k not in existing]
    if fresh:  # one multi-row insert: a burst of endings costs one statement, not an ORM object each
        s.execute(insert(OutboxRow), fresh)
    return len(fresh)


def set_preference(s: Session, user_id: int, event: Event, *, email: bool, webhook: bool) -> None:
    row = s.get(NotificationPrefRow, (user_id, event.value))
    if row is None:
        s.add(NotificationPrefRow(user_id=user_id, event=event.value, email=email, webhook=webhook))
    else:
        row.email, row.webhook = email, webhook


def preferences(s: Session, user_id: int) -> dict[Event, tuple[bool, bool]]:
    """Every event with (email, webhook); events without a row are on for both."""
    rows = {p.event: p for p in s.execute(select(NotificationPrefRow).where(
        NotificationPrefRow.user_id == user_id)).scalars()}
    return {e: ((rows[e.value].email, rows[e.value].webhook) if e.value in rows else (True, True)) for e in Event}


def profile(s: Session, user_id: int) -> NotificationProfileRow:
    row = s.get(NotificationProfileRow, user_id)
    if row is None:
        row = NotificationProfileRow(user_id=user_id, lang=DEFAULT_LANG)
        s.add(row)
        s.flush()
    return row


def set_language(s: Session, user_id: int, lang: str) -> None:
    profile(s, user_id).lang = "en" if lang == "en" else "ko"


def pending_count(s: Session, older_than: dt.timedelta | None = None) -> int:
    from sqlalchemy import func

    q = select(func.count()).select_from(OutboxRow).where(OutboxRow.state == "pending")
    if older_than is not None:
        q = q.where(OutboxRow.created_at < utcnow() - older_than)
    return int(s.execute(q).scalar_one())
