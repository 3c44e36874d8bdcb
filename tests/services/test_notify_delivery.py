"""Notifications end to end through real servers: queued in the caller's transaction, delivered by the worker
to a real SMTP server (aiosmtpd) and to a webhook receiver that checks signatures; bounces, retries with
backoff, a receiver that stays down, a crash between sending and recording, STARTTLS with credentials."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from aicc.config import Settings
from aicc.core.notify import MAX_ATTEMPTS, Event
from aicc.services.notify import delivery, outbox, webhooks
from aicc.services.notify.outbox import Notice
from aicc.services.principal import Principal
from aicc.store.db import Database
from aicc.store.models import NotificationProfileRow, OutboxRow, UserRow, WebhookDeliveryRow, utcnow
from tests.mail_server import Mailbox, smtp_server, webhook_receiver
from tests.world import World


@pytest.fixture
def mail(settings: Settings) -> Iterator[tuple[Settings, Mailbox]]:
    with smtp_server() as (port, box):
        yield dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
                                  mail_from="aicc@center.example"), box


def _emails(db: Database, world: World) -> dict[str, int]:
    """Give the test world's people addresses; returns username -> user id."""
    ids = {}
    with db.write() as s:
        for u in s.execute(select(UserRow)).scalars():
            u.email = f"{u.username}@uni.example"
            ids[u.username] = u.id
    return ids


def _job_notice(user_id: int, job_id: int = 41, state: str = "failed") -> Notice:
    return Notice(Event.JOB_FAILED, user_id, f"job{job_id}", {"job_id": job_id, "name": "train", "state": state,
                                                               "project": "proj-a", "reason": "exit code 3"})


def test_mail_reaches_the_smtp_server_in_each_users_language(db: Database, world: World,
                                                             mail: tuple[Settings, Mailbox]) -> None:
    settings, box = mail
    ids = _emails(db, world)
    with db.write() as s:
        outbox.set_language(s, ids["b-member"], "en")
        added = outbox.queue(s, [_job_notice(ids["a-member"]), _job_notice(ids["b-member"], 42)],
                             base_url="https://aicc.example")
    assert added == 2
    assert delivery.deliver_due(db, settings) == 2
    got = {rcpts[0]: msg for rcpts, msg in box.messages}
    assert set(got) == {"a-member@uni.example", "b-member@uni.example"}
    ko, en = got["a-member@uni.example"], got["b-member@uni.example"]
    assert ko["Subject"] == "작업 41 (train) 실패: failed" and ko["Content-Language"] == "ko"
    body = ko.get_content()
    assert "프로젝트 proj-a의 작업 41 (train)" in body and "https://aicc.example/jobs/41" in body
    assert en["Subject"] == "Job 42 (train) failed: failed" and "exit code 3" in en.get_content()
    assert ko["From"] == "aicc@center.example" and ko["Message-ID"] != en["Message-ID"]
    with db.read() as s:
        assert {r.state for r in s.execute(select(OutboxRow)).scalars()} == {"sent"}
    assert delivery.deliver_due(db, settings) == 0  # nothing twice


def test_a_rolled_back_command_queues_nothing_and_an_event_queues_once(db: Database, world: World) -> None:
    ids = _emails(db, world)
    with pytest.raises(RuntimeError), db.write() as s:
        outbox.queue(s, [_job_notice(ids["a-member"])])
        raise RuntimeError("the command failed after queueing")
    with db.write() as s:
        assert outbox.queue(s, [_job_notice(ids["a-member"])]) == 1
        assert outbox.queue(s, [_job_notice(ids["a-member"])]) == 0  # a retried cycle queues it again: no copy
    with db.read() as s:
        assert len(s.execute(select(OutboxRow)).all()) == 1


def test_preferences_choose_the_channels(db: Database, world: World) -> None:
    ids = _emails(db, world)
    with db.write() as s:
        outbox.set_preference(s, ids["a-member"], Event.JOB_FAILED, email=False, webhook=True)
        assert outbox.queue(s, [_job_notice(ids["a-member"])]) == 0  # no email, and no webhook registered
        assert outbox.queue(s, [_job_notice(ids["b-member"])]) == 1


def test_a_bouncing_address_is_marked_and_not_retried(db: Database, world: World,
                                                      mail: tuple[Settings, Mailbox]) -> None:
    settings, box = mail
    ids = _emails(db, world)
    box.refuse.add("a-member@uni.example")
    with db.write() as s:
        outbox.queue(s, [_job_notice(ids["a-member"])])
    delivery.deliver_due(db, settings)
    with db.read() as s:
        row = s.execute(select(OutboxRow)).scalar_one()
        assert row.state == "bounced" and row.attempts == 1 and "mailbox unavailable" in (row.last_error or "")
        assert s.get(NotificationProfileRow, ids["a-member"]).bounced_address == "a-member@uni.example"  # type: ignore[union-attr]
    assert delivery.deliver_due(db, settings, now=utcnow() + dt.timedelta(days=1)) == 0
    with db.write() as s:  # later events skip the bounced address …
        assert outbox.queue(s, [_job_notice(ids["a-member"], 43)]) == 0
        s.get(UserRow, ids["a-member"]).email = "a.member@new.example"  # type: ignore[union-attr]
    with db.write() as s:  # … until the address changes
        assert outbox.queue(s, [_job_notice(ids["a-member"], 44)]) == 1
    assert box.messages == []


def test_webhooks_are_signed_and_logged_per_endpoint(db: Database, world: World, settings: Settings) -> None:
    ids = _emails(db, world)
    me = Principal(ids["a-member"], "a-member")
    with webhook_receiver() as rec:
        with db.write() as s:
            endpoint, rec.secret = webhooks.create(s, me, rec.url)
            endpoint_id = endpoint.id
            outbox.set_preference(s, me.user_id, Event.JOB_FAILED, email=False, webhook=True)
            outbox.queue(s, [_job_notice(me.user_id)])
        assert delivery.deliver_due(db, settings) == 1
        assert rec.bad_signatures == 0 and len(rec.received) == 1
        hit = rec.received[0]
        assert hit["headers"]["X-AICC-Event"] == "job.failed"
        assert hit["body"]["event"] == "job.failed" and hit["body"]["data"]["job_id"] == 41
        assert hit["body"]["id"] == hit["headers"]["X-AICC-Delivery"]
    with db.read() as s:
        log = webhooks.deliveries(s, me, endpoint_id)
        assert [(d.outcome, d.status_code, d.attempt) for d in log] == [("delivered", 204, 1)]
        other = Principal(ids["b-member"], "b-member")
        with pytest.raises(Exception, match="not found"):
            webhooks.deliveries(s, other, endpoint_id)  # another user's log is not theirs to read


def test_a_receiver_that_stays_down_gets_retries_with_backoff_then_a_failed_delivery(
        db: Database, world: World, settings: Settings) -> None:
    ids = _emails(db, world)
    me = Principal(ids["a-member"], "a-member")
    with webhook_receiver() as rec:
        down_url = rec.url  # the receiver stops: this port refuses connections from now on
    with db.write() as s:
        endpoint, _ = webhooks.create(s, me, down_url)
        outbox.set_preference(s, me.user_id, Event.JOB_FAILED, email=False, webhook=True)
        outbox.queue(s, [_job_notice(me.user_id)])
    now = utcnow()
    waits = []
    for _ in range(MAX_ATTEMPTS):
        assert delivery.deliver_due(db, settings, now=now) == 1
        assert delivery.deliver_due(db, settings, now=now) == 0  # not again before its backoff is over
        with db.read() as s:
            row = s.execute(select(OutboxRow)).scalar_one()
        waits.append((row.next_attempt_at - now).total_seconds())
        now = row.next_attempt_at
    assert row.state == "failed" and row.attempts == MAX_ATTEMPTS
    assert waits[:4] == pytest.approx([30, 60, 120, 240], abs=2)
    with db.read() as s:
        log = list(s.execute(select(WebhookDeliveryRow).where(WebhookDeliveryRow.endpoint_id == endpoint.id)
                             .order_by(WebhookDeliveryRow.id)).scalars())
    assert [d.outcome for d in log] == ["retry"] * (MAX_ATTEMPTS - 1) + ["failed"]
    assert all("ConnectError" in (d.error or "") for d in log)


def test_a_crash_between_sending_and_recording_resends_with_the_same_message_id(
        db: Database, world: World, mail: tuple[Settings, Mailbox]) -> None:
    settings, box = mail
    ids = _emails(db, world)
    with db.write() as s:
        outbox.queue(s, [_job_notice(ids["a-member"])])
    claimed = delivery.claim(db, utcnow())  # the worker claims and sends, then dies before recording
    delivery.Mailer(settings).send(claimed[0])
    assert delivery.deliver_due(db, settings) == 0  # claimed: another worker leaves it alone
    assert delivery.deliver_due(db, settings, now=utcnow() + delivery.LEASE + dt.timedelta(seconds=1)) == 1
    assert len(box.messages) == 2
    first, second = (m for _, m in box.messages)
    assert first["Message-ID"] == second["Message-ID"]  # the receiver can tell the copy
    with db.read() as s:
        assert s.execute(select(OutboxRow.state)).scalar_one() == "sent"


def test_mail_goes_over_starttls_with_credentials_from_the_environment(
        db: Database, world: World, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _emails(db, world)
    with smtp_server(tls_dir=tmp_path, user="aicc", password="relay-password-123") as (port, box):
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))  # trust the test relay's certificate
        env = {"AICC_SMTP_HOST": "127.0.0.1", "AICC_SMTP_PORT": str(port), "AICC_SMTP_USER": "aicc",
               "AICC_SMTP_PASSWORD": "wrong-password", "AICC_HOME": str(settings.home)}
        from aicc.config import load_settings

        wrong = dataclasses.replace(settings, **{k: getattr(load_settings(env), k) for k in (
            "smtp_host", "smtp_port", "smtp_starttls", "smtp_user", "smtp_password")})
        assert wrong.smtp_starttls and "wrong-password" not in repr(wrong)
        with db.write() as s:
            outbox.queue(s, [_job_notice(ids["a-member"])])
        delivery.deliver_due(db, wrong)
        with db.read() as s:
            row = s.execute(select(OutboxRow)).scalar_one()
        assert row.state == "pending" and row.attempts == 1 and "wrong-password" not in (row.last_error or "")
        assert box.messages == []
        right = dataclasses.replace(wrong, smtp_password="relay-password-123")
        assert delivery.deliver_due(db, right, now=row.next_attempt_at) == 1
        assert [r for r, _ in box.messages] == [["a-member@uni.example"]]
