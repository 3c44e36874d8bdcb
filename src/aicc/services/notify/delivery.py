"""Delivering the outbox: email over SMTP (STARTTLS, credentials from the environment) and signed webhooks.

One pass: claim due rows (moving their next attempt a lease ahead, committed, so a second worker skips
them), send without any transaction open, then record each outcome. A crash between sending and recording
leaves the row claimed; after the lease it is sent again with the same Message-ID / X-AICC-Delivery, so a
receiver can drop the copy: nothing is lost, and a duplicate is recognisable (exactly-once is not on offer
from SMTP or HTTP). Each webhook attempt is a row in the endpoint's delivery log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import signal
import smtplib
import ssl
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formatdate

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from aicc.config import Settings
from aicc.core.notify import MAX_ATTEMPTS, Channel, Outcome, backoff_s, signature
from aicc.services.notify.outbox import delivery_id, profile
from aicc.store.db import Database
from aicc.store.models import OutboxRow, WebhookDeliveryRow, WebhookEndpointRow, utcnow

log = logging.getLogger("aicc.notify")
LEASE = dt.timedelta(minutes=2)
BATCH = 500
MAIL_LANES = 2
"""SMTP connections used side by side in one pass."""
ENDPOINT_GONE = "endpoint removed or switched off"


@dataclass
class Result:
    ok: bool
    permanent: bool = False
    """The receiver refused for good (SMTP 5xx for the address): no retry, the address is marked bounced."""
    status: int | None = None
    error: str | None = None


def claim(db: Database, now: dt.datetime, limit: int = BATCH) -> list[OutboxRow]:
    with db.write() as s:
        q = (select(OutboxRow).where(OutboxRow.state == Outcome.PENDING.value, OutboxRow.next_attempt_at <= now)
             .order_by(OutboxRow.next_attempt_at, OutboxRow.id).limit(limit))
        if s.bind is not None and s.bind.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        rows = list(s.execute(q).scalars())
        if rows:
            s.execute(update(OutboxRow).where(OutboxRow.id.in_([r.id for r in rows]))
                      .values(next_attempt_at=now + LEASE, attempts=OutboxRow.attempts + 1))
        for r in rows:  # the update above counted this attempt in them too
            s.expunge(r)
        return rows


class Mailer:
    """One SMTP connection per pass: a burst of thousands of messages costs one handshake, not thousands."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        st = self.settings
        assert st.smtp_host
        smtp = smtplib.SMTP(st.smtp_host, st.smtp_port, timeout=30)
        smtp.ehlo()
        if st.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if st.smtp_user:
            smtp.login(st.smtp_user, st.smtp_password or "")
        return smtp

    def send(self, row: OutboxRow) -> Result:
        if not self.settings.smtp_host:
            return Result(False, permanent=True, error="no mail relay configured (AICC_SMTP_HOST)")
        # the compat32 MIMEText: a sixth of EmailMessage's cost per message, which counts in a burst
        msg = MIMEText(str(row.payload.get("body", "")), "plain", "utf-8")
        msg["From"] = self.settings.mail_from
        msg["To"] = row.target
        msg["Subject"] = Header(str(row.payload.get("subject", "")), "utf-8").encode()
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = f"<{delivery_id(row.dedup_key)}@aicc>"
        msg["Content-Language"] = row.lang
        msg["X-AICC-Event"] = row.event
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            self._smtp.sendmail(self.settings.mail_from, [row.target], msg.as_bytes())
            return Result(True)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            return Result(False, permanent=500 <= code < 600, status=code, error=_text(text))
        except smtplib.SMTPResponseException as exc:  # the relay's trouble (credentials, policy), not the address's
            self.close()
            return Result(False, status=exc.smtp_code, error=f"mail relay answered {exc.smtp_code} "
                                                             f"{_text(exc.smtp_error)}")
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            return Result(False, error=f"mail relay: {type(exc).__name__}: {str(exc)[:200]}")

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._smtp.quit()
            self._smtp = None


def _text(value: bytes | str) -> str:
    return (value.decode(errors="replace") if isinstance(value, bytes) else value)[:300]


def post_webhook(http: httpx.Client, endpoint: WebhookEndpointRow, row: OutboxRow) -> Result:
    body = json.dumps({"id": delivery_id(row.dedup_key), "event": row.event, "created_at": row.created_at.isoformat(),
                       "subject": row.payload.get("subject"), "data": row.payload.get("data", {})},
                      ensure_ascii=False, sort_keys=True).encode()
    ts = int(time.time())
    headers = {"Content-Type": "application/json", "User-Agent": "aicc-webhooks",
               "X-AICC-Event": row.event, "X-AICC-Delivery": delivery_id(row.dedup_key),
               "X-AICC-Timestamp": str(ts), "X-AICC-Signature": signature(endpoint.secret, ts, body)}
    try:
        r = http.post(endpoint.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return Result(False, error=f"{type(exc).__name__}: {str(exc)[:200]}")
    if 200 <= r.status_code < 300:
        return Result(True, status=r.status_code)
    return Result(False, status=r.status_code, error=f"HTTP {r.status_code}")


def deliver_due(db: Database, settings: Settings, *, now: dt.datetime | None = None, backoff_base_s: float = 30.0,
                limit: int = BATCH) -> int:
    """One pass over the due rows; returns how many were handled (sent or not)."""
    now = now or utcnow()
    rows = claim(db, now, limit)
    if not rows:
        return 0
    endpoints: dict[int, WebhookEndpointRow] = {}
    hook_ids = {int(r.target) for r in rows if r.channel == Channel.WEBHOOK.value}
    if hook_ids:
        with db.read() as s:
            for e in s.execute(select(WebhookEndpointRow).where(WebhookEndpointRow.id.in_(hook_ids))).scalars():
                s.expunge(e)
                endpoints[e.id] = e
    mails = [r for r in rows if r.channel == Channel.EMAIL.value]
    results: list[tuple[OutboxRow, Result]] = []
    if mails:  # a few connections side by side: SMTP is round trips, and one relay connection waits on each
        lanes = [mails[i::MAIL_LANES] for i in range(min(MAIL_LANES, len(mails)))]
        with ThreadPoolExecutor(len(lanes), thread_name_prefix="aicc-smtp") as pool:
            for done in pool.map(lambda lane: _send_lane(settings, lane), lanes):
                results += done
    with httpx.Client(timeout=10.0, follow_redirects=False) as http:
        for row in rows:
            if row.channel == Channel.WEBHOOK.value:
                endpoint = endpoints.get(int(row.target))
                results.append((row, post_webhook(http, endpoint, row) if endpoint and endpoint.active
                                else Result(False, permanent=True, error=ENDPOINT_GONE)))
    with db.write() as s:
        _record(s, results, now, backoff_base_s)
    return len(rows)


def _send_lane(settings: Settings, rows: list[OutboxRow]) -> list[tuple[OutboxRow, Result]]:
    mailer = Mailer(settings)
    try:
        return [(row, mailer.send(row)) for row in rows]
    finally:
        mailer.close()


def _record(s: Session, results: list[tuple[OutboxRow, Result]], now: dt.datetime, backoff_base_s: float) -> None:
    sent = [row.id for row, r in results if r.ok]
    if sent:
        s.execute(update(OutboxRow).where(OutboxRow.id.in_(sent))
                  .values(state=Outcome.SENT.value, sent_at=now, last_error=None))
    for row, r in results:
        if r.ok:
            outcome = "delivered"
        else:
            spent = row.attempts >= MAX_ATTEMPTS
            bounced = r.permanent and row.channel == Channel.EMAIL.value and r.status is not None
            state = Outcome.BOUNCED if bounced else (
                Outcome.FAILED if r.permanent or spent else Outcome.PENDING)
            s.execute(update(OutboxRow).where(OutboxRow.id == row.id).values(
                state=state.value, last_error=r.error,
                next_attempt_at=now + dt.timedelta(seconds=backoff_s(row.attempts, backoff_base_s))))
            if state is Outcome.BOUNCED and row.user_id is not None:
                p = profile(s, row.user_id)
                p.bounced_address, p.bounced_at = row.target, now
                log.warning("mail to user %s bounced (%s): no more mail to that address", row.user_id, r.status)
            outcome = "retry" if state is Outcome.PENDING else "failed"
        if row.channel == Channel.WEBHOOK.value and r.error != ENDPOINT_GONE:
            s.add(WebhookDeliveryRow(endpoint_id=int(row.target), outbox_id=row.id, attempt=row.attempts,
                                     status_code=r.status, error=r.error, outcome=outcome, at=now))


class NotifyWorker:
    """The delivery loop in the server process: a pass every ``period`` seconds, at once after a full batch."""

    def __init__(self, db: Database, settings: Settings, period: float = 1.0) -> None:
        self.db, self.settings, self.period = db, settings, period
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="aicc-notify", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                n = deliver_due(self.db, self.settings)
            except Exception:
                log.exception("notification pass failed; retrying")
                n = 0
            if n < BATCH:
                self._stop.wait(self.period)


def spawn(settings: Settings) -> subprocess.Popen[bytes]:
    """The worker in a process of its own (``python -m aicc.services.notify.delivery``): building and sending
    thousands of messages then never competes with the API and the controller for the server's GIL."""
    env = {**os.environ, "AICC_HOME": str(settings.home), "AICC_DATABASE_URL": settings.database_url}
    return subprocess.Popen([sys.executable, "-m", "aicc.services.notify.delivery"], env=env)


def main() -> None:
    """Run passes until SIGTERM, or until the server that started this process is gone."""
    from aicc.config import load_settings

    settings = load_settings()
    os.nice(10)  # background work: on a busy host the scheduler's CPU goes to the server and its job starts first
    db = Database(settings.database_url)
    worker = NotifyWorker(db, settings)
    parent = os.getppid()
    signal.signal(signal.SIGTERM, lambda *_: worker._stop.set())
    worker.start()
    while not worker._stop.wait(1.0):
        if os.getppid() != parent:
            worker._stop.set()
    worker.stop()
    db.dispose()


if __name__ == "__main__":
    main()
