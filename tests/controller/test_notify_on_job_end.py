"""The controller queues a job's ending in the transaction that records it, for jobs that opted in
(``aicc submit --notify``), and the worker mails it to a real SMTP server."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from aicc.services.notify import delivery
from aicc.store.models import OutboxRow, UserRow
from tests.controller.conftest import Harness
from tests.mail_server import smtp_server
from tests.world import World


def test_only_jobs_that_opted_in_are_told_and_only_of_the_endings_they_chose(harness: Harness) -> None:
    with harness.db.write() as s:
        s.execute(select(UserRow).where(UserRow.username == "a-member")).scalar_one().email = "a@uni.example"
    w: World = harness.world
    failing = harness.submit(w.a.member_token, command=["sh", "-c", "exit 3"], name="fails", notify=["fail"])
    quiet = harness.submit(w.a.member_token, command=["sh", "-c", "exit 3"], name="quiet")
    fine = harness.submit(w.a.member_token, command=["true"], name="fine", notify=["fail"])
    ended = harness.submit(w.a.member_token, command=["true"], name="ended", notify=["end"])
    for job_id in (failing, quiet, fine, ended):
        harness.until_state(job_id, "failed", "succeeded")
    with harness.db.read() as s:
        rows = list(s.execute(select(OutboxRow).order_by(OutboxRow.id)).scalars())
    assert sorted((r.event, r.payload["data"]["job_id"]) for r in rows) == sorted(
        [("job.failed", failing), ("job.ended", ended)])
    with smtp_server() as (port, box):
        settings = dataclasses.replace(harness.settings, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False)
        assert delivery.deliver_due(harness.db, settings) == 2
    subjects = sorted(str(m["Subject"]) for _, m in box.messages)
    assert subjects == sorted([f"작업 {failing} (fails) 실패: failed", f"작업 {ended} (ended) 종료: succeeded"])
    assert all(r == ["a@uni.example"] for r, _ in box.messages)


def test_an_unknown_notify_word_is_refused_at_the_edge(harness: Harness) -> None:
    r = harness.client.post("/api/v1/jobs", headers=World.auth(harness.world.a.member_token),
                            json={"project": "proj-a", "command": ["true"], "notify": ["begin"]})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
