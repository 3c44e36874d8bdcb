"""Interactive sessions: start one (a job of kind ``session``), see it, stop it, and find it for the proxy.

Starting a session submits an ordinary job through the same checks and the same admission path as any job
(quota, fair share, budget, borrowing); its command starts JupyterLab on a Unix socket in its job directory.
Who may reach a session is decided here and nowhere else: its owner only. Everyone else, a center admin
included, is told the same "not found" as for a session that does not exist, so ids reveal nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from aicc.config import Settings
from aicc.core import sessions as core
from aicc.core.errors import InvalidInput, NotFound
from aicc.core.jobs import JobState, RunKind
from aicc.core.jobs.reasons import Reason, ReasonCode
from aicc.core.sessions import SessionKind, SessionPhase
from aicc.executors.base import log_file
from aicc.runner import relay_address
from aicc.runner.relay import engine_socket
from aicc.runner.relay_address import TcpAddress
from aicc.services import audit, courses, jobs
from aicc.services.principal import Principal
from aicc.store.models import JobRow, SessionRow, utcnow

MAX_SOCKET_PATH = 107
LOG_TAIL_BYTES = 2000


@dataclass(frozen=True, slots=True)
class SessionSpec:
    project_id: int
    kind: SessionKind = SessionKind.JUPYTER
    image: str | None = None
    flavors: Sequence[str] = ()
    accelerators: int = 0
    cpus: int = 1
    memory_mb: int = 2048
    time_limit_s: int = 2 * 3600
    idle_limit_s: int | None = None


@dataclass(frozen=True, slots=True)
class SessionView:
    """A session as its owner sees it (never its token)."""

    id: int
    kind: SessionKind
    project_id: int
    phase: SessionPhase
    state: str
    reason: str
    url: str | None
    flavor: str | None
    accelerators: int
    submitted_at: dt.datetime
    started_at: dt.datetime | None
    ready_at: dt.datetime | None
    ended_at: dt.datetime | None
    last_activity_at: dt.datetime | None
    time_limit_s: int
    seconds_left: float | None
    warn_time_limit: bool
    idle_limit_s: int
    ended_why: str | None
    reason_code: str | None = None
    reason_params: dict[str, Any] | None = None


def _interpreter_of(jupyter: str) -> str | None:
    """The ``python`` beside an environment's ``jupyter-lab`` (a venv's, conda's), which sees the same host
    paths inside the run; None where there is none (then the server starts by its own entry point)."""
    python = os.path.join(os.path.dirname(jupyter), "python")
    return python if os.path.isabs(jupyter) and os.access(python, os.X_OK) else None


def start(s: Session, actor: Principal, settings: Settings, spec: SessionSpec) -> JobRow:
    """Submit the session's job and its session row in the caller's transaction."""
    idle = settings.session_idle_s if spec.idle_limit_s is None else spec.idle_limit_s
    if not 0 <= idle <= 7 * 86400:
        raise InvalidInput("idle limit must be between 0 (never) and 7 days")
    courses.check_student_limits(s, actor, spec.project_id, spec.accelerators, spec.time_limit_s)
    image = spec.image or courses.image_of(s, spec.project_id)
    token = secrets.token_hex(24)
    jupyter = "jupyter-lab" if image else settings.session_jupyter
    command = core.ServerCommand(jupyter, None if image else _interpreter_of(jupyter)).argv()
    job_spec = jobs.JobSpec(
        project_id=spec.project_id, command=command, name=spec.kind.value, flavors=spec.flavors,
        accelerators=spec.accelerators, cpus=spec.cpus, memory_mb=spec.memory_mb, time_limit_s=spec.time_limit_s,
        env={"JUPYTER_TOKEN": token}, image=image,
    )
    done = jobs.write(s, actor, jobs.check(actor, settings, job_spec, jobs.load_reference(s)))
    job_id = done.ids[0]
    s.execute(update(JobRow).where(JobRow.id == job_id).values(kind=RunKind.SESSION.value))
    s.add(SessionRow(job_id=job_id, server=spec.kind.value, token=token, idle_limit_s=idle, connections=0))
    s.flush()
    job = s.get(JobRow, job_id)
    assert job is not None
    s.refresh(job)
    return job


def _owned(s: Session, actor: Principal, job_id: int) -> tuple[JobRow, SessionRow]:
    job = s.get(JobRow, job_id)
    row = s.get(SessionRow, job_id) if job is not None else None
    if job is None or row is None or job.kind != RunKind.SESSION.value:
        raise NotFound("session not found")
    if job.user_id != actor.user_id and not courses.instructs(s, actor, job.project_id):
        raise NotFound("session not found")  # the same answer as for no session: ids reveal nothing
    return job, row


def view(settings: Settings, job: JobRow, row: SessionRow, now: dt.datetime | None = None) -> SessionView:
    now = now or utcnow()
    ph = core.phase(job.state, row.ready_at)
    left = core.seconds_left(job.started_at, job.time_limit_s, now) if ph is not SessionPhase.ENDED else None
    kind = SessionKind(row.server)
    why = row.ended_why
    if ph is SessionPhase.ENDED and row.ready_at is None and why is None and job.state != JobState.CANCELLED.value:
        why = log_tail(settings, job.id)  # it never came up: the server's own words say why
    return SessionView(
        id=job.id, kind=kind, project_id=job.project_id, phase=ph, state=job.state, reason=job.reason,
        url=core.base_path(job.id) + kind.landing if ph is SessionPhase.READY else None,
        flavor=job.flavor, accelerators=job.accelerators, submitted_at=job.submitted_at, started_at=job.started_at,
        ready_at=row.ready_at, ended_at=job.ended_at, last_activity_at=row.last_activity_at,
        time_limit_s=job.time_limit_s, seconds_left=left, warn_time_limit=core.warn_time_limit(left),
        idle_limit_s=row.idle_limit_s, ended_why=why, reason_code=job.reason_code, reason_params=job.reason_params,
    )


def get(s: Session, actor: Principal, settings: Settings, job_id: int) -> SessionView:
    job, row = _owned(s, actor, job_id)
    return view(settings, job, row)


def list_mine(s: Session, actor: Principal, settings: Settings, *, live_only: bool = False,
              limit: int = 50) -> list[SessionView]:
    q = (select(JobRow, SessionRow).join(SessionRow, SessionRow.job_id == JobRow.id)
         .where(JobRow.user_id == actor.user_id, JobRow.kind == RunKind.SESSION.value))
    if live_only:
        q = q.where(JobRow.state.in_(jobs.ACTIVE))
    rows = s.execute(q.order_by(JobRow.id.desc()).limit(limit)).all()
    now = utcnow()
    return [view(settings, job, row, now) for job, row in rows]


def stop(s: Session, actor: Principal, job_id: int) -> None:
    """The owner, or an instructor of the course the session belongs to."""
    job, _ = _owned(s, actor, job_id)
    if job.user_id == actor.user_id:
        jobs.cancel(s, actor, job_id)
        return
    if job.state == JobState.PENDING.value:
        job.state, job.ended_at = JobState.CANCELLED.value, utcnow()
        job.set_reason(Reason(ReasonCode.CANCELLED_BY, {"user": actor.username}))
    elif job.state in jobs.ACTIVE and not job.cancel_requested:
        job.cancel_requested = True
        job.set_reason(Reason(ReasonCode.CANCEL_REQUESTED_BY, {"user": actor.username}))
    audit.record(s, actor, "session.stop", "job", job.id, data={"by": "instructor"})


def list_course(s: Session, actor: Principal, settings: Settings, course_id: int) -> list[SessionView]:
    """Every session of a course, for its instructors (and center admins)."""
    course = courses.get(s, course_id)
    if not (actor.is_center_admin or courses.instructs(s, actor, course.project_id)):
        raise NotFound("course not found")
    rows = s.execute(select(JobRow, SessionRow).join(SessionRow, SessionRow.job_id == JobRow.id).where(
        JobRow.project_id == course.project_id, JobRow.kind == RunKind.SESSION.value).order_by(JobRow.id.desc())
        .limit(500)).all()
    now = utcnow()
    return [view(settings, job, row, now) for job, row in rows]


def log_tail(settings: Settings, job_id: int) -> str | None:
    """The end of the server's error log (JupyterLab writes everything there)."""
    path = jobs.job_dir(settings, job_id) / log_file("stderr")
    try:
        with path.open("rb") as f:
            size = f.seek(0, 2)
            f.seek(max(0, size - LOG_TAIL_BYTES))
            text = f.read().decode(errors="replace").strip()
    except OSError:
        return None
    return text or None


@dataclass(frozen=True, slots=True)
class Target:
    """Where the proxy forwards a session's requests, and the credential it adds upstream."""

    socket: Path | TcpAddress
    """The socket the session's server made in its run directory, or, for a session on another host (Slurm in
    TCP mode), the relay it published on its node (``address``)."""
    token: str
    uid: int | None


def target(s: Session, actor: Principal, settings: Settings, job_id: int) -> Target:
    """The owner's live session, or NotFound (the same for a stranger as for no session at all)."""
    job, row = _owned(s, actor, job_id)
    if job.state != JobState.RUNNING.value:
        raise NotFound("session not found")
    return Target(address(settings, job.id, job.attempt), row.token, None)


def address(settings: Settings, job_id: int, attempt: int) -> Path | TcpAddress:
    """Where a running session is reached: the TCP relay its node published (a session on another Slurm host,
    TCP mode: ``runner.relay``), else the socket in its run directory."""
    published = relay_address.published(engine_socket(settings.jobs_dir, job_id, attempt).parent)
    return published or jobs.job_dir(settings, job_id) / core.SOCKET_NAME


def socket_problem(path: Path | TcpAddress) -> str | None:
    """Why the proxy must not connect to ``path``: the run made it, so it must be its socket, not a link
    to someone else's (the server connects as root). A relay's address was checked as it was read."""
    if isinstance(path, TcpAddress):
        return None
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        return f"{path} is too long for a Unix socket: shorten AICC_HOME"
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "not listening yet"
    except OSError as exc:
        return exc.strerror or "unreadable"
    if not stat.S_ISSOCK(st.st_mode):
        return "not a socket"
    if st.st_uid == 0 or st.st_uid == os.geteuid():
        return "not the session's own socket"  # runs never run as root or as the server: planted, refuse
    return None
