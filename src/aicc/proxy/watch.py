"""The server's look at live sessions: has each come up yet, and has anyone used it lately?

Every few seconds it asks each running session's own server (JupyterLab's ``/api/status``, through the
session's socket with its token) and records ``ready_at``, ``last_activity`` and the open connections. A
session idle past its limit is stopped as a cancel is: the controller ends the run, its accelerators return to
the pool, and the reason says it was idle. The server's own idea of activity is used, not the proxy's traffic,
so a kernel still computing with no browser attached counts as busy.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import select

from aicc.config import Settings
from aicc.core import sessions as core
from aicc.core.jobs import JobState, RunKind
from aicc.core.jobs.reasons import Reason, ReasonCode
from aicc.proxy import forward
from aicc.proxy.forward import relay_transport
from aicc.runner.relay_address import TcpAddress
from aicc.services.notify import events as notify_events
from aicc.services.sessions import address, socket_problem
from aicc.store.db import Database
from aicc.store.models import JobRow, SessionRow, utcnow

log = logging.getLogger("aicc.sessions")
PROBE_TIMEOUT_S = 3.0
READY_POLL_S = 0.5
"""Sessions not yet ready are looked at this often (a class waits on it); the rest every ``session_poll_s``."""


@dataclass(frozen=True, slots=True)
class Probe:
    job_id: int
    last_activity: dt.datetime | None
    connections: int


def _live(db: Database, settings: Settings,
          starting_only: bool = False) -> list[tuple[int, Path | TcpAddress, str]]:
    q = select(JobRow.id, JobRow.attempt, SessionRow.token).join(SessionRow, SessionRow.job_id == JobRow.id).where(
        JobRow.kind == RunKind.SESSION.value, JobRow.state == JobState.RUNNING.value,
        JobRow.cancel_requested.is_(False))
    if starting_only:
        q = q.where(SessionRow.ready_at.is_(None))
    with db.read() as s:
        rows = s.execute(q).all()
    return [(job_id, address(settings, job_id, attempt), token) for job_id, attempt, token in rows]


async def probe(job_id: int, socket: Path | TcpAddress, token: str) -> Probe | None:
    """The session's status, or None while it does not answer (starting, or gone)."""
    if socket_problem(socket) is not None:
        return None
    transport = relay_transport(socket, httpx.Limits(max_connections=1)) if isinstance(socket, TcpAddress) else \
        httpx.AsyncHTTPTransport(uds=str(socket), retries=0)
    try:
        async with httpx.AsyncClient(transport=transport, timeout=PROBE_TIMEOUT_S, trust_env=False) as client:
            r = await client.get(f"http://run{core.base_path(job_id)}api/status",
                                 headers={"authorization": f"token {token}"})
        if r.status_code != 200:
            return None
        body = r.json()
        last = body.get("last_activity")
        when = dt.datetime.fromisoformat(last.replace("Z", "+00:00")) if isinstance(last, str) else None
        return Probe(job_id, when, int(body.get("connections") or 0))
    except (httpx.HTTPError, OSError, ValueError, TypeError):
        return None


def record(db: Database, probes: list[Probe], now: dt.datetime) -> list[int]:
    """Write what the sessions said; stop the idle ones. Returns the ids stopped."""
    culled: list[int] = []
    with db.write() as s:
        for p in probes:
            row, job = s.get(SessionRow, p.job_id), s.get(JobRow, p.job_id)
            if row is None or job is None or job.state != JobState.RUNNING.value or job.cancel_requested:
                continue
            if row.ready_at is None:
                row.ready_at = now
            if p.last_activity is not None and p.last_activity != row.last_activity_at:
                row.last_activity_at = p.last_activity
            if row.connections != p.connections:
                row.connections = p.connections
            idle = core.idle_for(row.last_activity_at, row.ready_at, now)
            if core.should_warn(idle, row.idle_limit_s):
                since = row.last_activity_at or row.ready_at
                at = (now + dt.timedelta(seconds=row.idle_limit_s - idle)).isoformat(timespec="minutes")
                # one warning per stretch of idleness: activity starts a new one
                notify_events.session_cull_soon(s, job.user_id, job.id, at,
                                                f"cull{job.id}-{since.isoformat() if since else ''}")
            if core.should_cull(idle, row.idle_limit_s, p.connections):
                minutes = max(1, round(idle / 60))
                job.cancel_requested = True
                job.set_reason(Reason(ReasonCode.SESSION_IDLE, {"minutes": minutes}))
                row.ended_why = f"stopped after {minutes} min without activity"
                culled.append(job.id)
    return culled


async def look_once(db: Database, settings: Settings, wake: Callable[[], None] | None = None, *,
                    starting_only: bool = False) -> list[int]:
    """Probe the live sessions (``starting_only``: those not yet ready), record what they say, stop the idle."""
    live = await asyncio.to_thread(_live, db, settings, starting_only)
    if not live:
        return []
    found = await asyncio.gather(*(probe(job_id, sock, token) for job_id, sock, token in live))
    answered = [p for p in found if p is not None]
    if not answered:
        return []
    culled = await asyncio.to_thread(record, db, answered, utcnow())
    where = {job_id: sock for job_id, sock, _ in live}
    for job_id in culled:
        log.info("session %d stopped: idle", job_id)
        await forward.release(where[job_id])
    if culled and wake is not None:
        wake()
    return culled


async def watch(db: Database, settings: Settings, wake: Callable[[], None] | None = None) -> None:
    """Until cancelled (the server's shutdown). Every session every ``session_poll_s`` (activity, idleness);
    between those, every :data:`READY_POLL_S`, only the ones still starting: a session is shown ready within
    half a second of its server answering, without probing thirty busy ones twice a second."""
    loop = asyncio.get_running_loop()
    last_full = -float("inf")
    while True:
        full = loop.time() - last_full >= settings.session_poll_s
        if full:
            last_full = loop.time()
        try:
            await look_once(db, settings, wake, starting_only=not full)
        except Exception:  # one bad look must not end the watch: the next one may succeed
            log.exception("looking at sessions failed")
        await asyncio.sleep(min(READY_POLL_S, settings.session_poll_s))
