"""The server's look at live sessions: ready once the server answers, stopped once idle past its limit."""

from __future__ import annotations

import datetime as dt

from aicc.config import Settings
from aicc.core.jobs.reasons import ReasonCode
from aicc.proxy import watch
from aicc.services import sessions, tokens
from aicc.services.sessions import SessionSpec
from aicc.store.db import Database
from aicc.store.models import JobRow, SessionRow, utcnow
from tests.world import World


def _running_session(db: Database, settings: Settings, world: World, idle_limit_s: int) -> int:
    with db.write() as s:
        member = tokens.authenticate(s, world.a.member_token)
        job = sessions.start(s, member, settings, SessionSpec(project_id=world.a.project_id,
                                                              idle_limit_s=idle_limit_s))
        job.state, job.started_at, job.flavor = "running", utcnow() - dt.timedelta(hours=1), "cpu"
        return job.id


def test_first_answer_makes_it_ready_and_recent_activity_keeps_it(db: Database, settings: Settings,
                                                                  world: World) -> None:
    sid = _running_session(db, settings, world, idle_limit_s=600)
    now = utcnow()
    assert watch.record(db, [watch.Probe(sid, now - dt.timedelta(seconds=30), 1)], now) == []
    with db.read() as s:
        row, job = s.get(SessionRow, sid), s.get(JobRow, sid)
        assert row is not None and job is not None
        assert row.ready_at == now and row.connections == 1 and not job.cancel_requested


def test_idle_past_its_limit_is_stopped_with_the_reason(db: Database, settings: Settings, world: World) -> None:
    sid = _running_session(db, settings, world, idle_limit_s=600)
    now = utcnow()
    watch.record(db, [watch.Probe(sid, now - dt.timedelta(minutes=12), 0)], now - dt.timedelta(minutes=12))
    assert watch.record(db, [watch.Probe(sid, now - dt.timedelta(minutes=11), 0)], now) == [sid]
    with db.read() as s:
        row, job = s.get(SessionRow, sid), s.get(JobRow, sid)
        assert row is not None and job is not None
        assert job.cancel_requested and job.reason_code == ReasonCode.SESSION_IDLE.value
        assert row.ended_why == "stopped after 11 min without activity"


def test_a_session_that_never_idles_out_is_kept(db: Database, settings: Settings, world: World) -> None:
    sid = _running_session(db, settings, world, idle_limit_s=0)
    now = utcnow()
    assert watch.record(db, [watch.Probe(sid, now - dt.timedelta(days=2), 0)], now) == []


def test_the_owner_is_told_once_before_an_idle_session_is_stopped(db: Database, settings: Settings,
                                                                   world: World) -> None:
    from aicc.store.models import OutboxRow, UserRow

    sid = _running_session(db, settings, world, idle_limit_s=1200)
    with db.write() as s:  # an address to tell
        owner_row = s.get(UserRow, world.a.member_id)
        assert owner_row is not None
        owner_row.email = "student@jnu.ac.kr"
    start = utcnow() - dt.timedelta(minutes=15)
    watch.record(db, [watch.Probe(sid, start, 0)], start)  # ready, active at `start`
    for minutes in (12, 13):  # inside the last ten minutes: warned, once, and not yet stopped
        assert watch.record(db, [watch.Probe(sid, start, 0)], start + dt.timedelta(minutes=minutes)) == []
    with db.read() as s:
        notes = [o for o in s.query(OutboxRow).all() if o.event == "session.cull"]
        owner = s.get(JobRow, sid)
        assert owner is not None and {o.user_id for o in notes} == {owner.user_id} and len(notes) >= 1
        assert len({o.dedup_key.split(":")[1] for o in notes}) == 1  # one warning, whatever its channels
        assert f"{sid}" in notes[0].payload["subject"]


def test_between_full_looks_only_sessions_still_starting_are_probed(db: Database, settings: Settings,
                                                                    world: World) -> None:
    """A class waits on its sessions becoming ready: those are looked at every half second, the ready ones
    (thirty busy servers) only every AICC_SESSION_POLL."""
    ready, starting = (_running_session(db, settings, world, idle_limit_s=600) for _ in range(2))
    watch.record(db, [watch.Probe(ready, utcnow(), 0)], utcnow())
    assert {j for j, _, _ in watch._live(db, settings, starting_only=True)} == {starting}
    assert {j for j, _, _ in watch._live(db, settings)} == {ready, starting}
