"""Applying what the engine reports to jobs in the database: starts, ends, losses, preemptions.

Pure bookkeeping over rows; the loop calls it inside one transaction per cycle
step. Usage is charged up to the engine's own end time before a run is closed,
so the ledger matches what really ran.
"""

from __future__ import annotations

import datetime as dt

from aicc.core.jobs import JobState
from aicc.core.jobs.reasons import Reason, ReasonCode
from aicc.executors.base import RunPhase, RunStatus
from aicc.services import metering
from aicc.store.models import JobRow


def _ts(value: float | None, default: dt.datetime) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, dt.UTC) if value is not None else default


def requeue(job: JobRow, reason: Reason) -> None:
    """Back to pending, keeping ``submitted_at`` (its place in the queue); the next start is a new attempt."""
    job.state = JobState.PENDING.value
    job.set_reason(reason)
    job.next_attempt()


def apply_status(job: JobRow, status: RunStatus, now: dt.datetime, rates: dict[str, tuple[float, bool]],
                 session: object) -> str | None:
    """Update ``job`` from ``status``; return an audit action name when the job's state changed."""
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    if status.phase is RunPhase.STARTING:
        return None
    if status.phase is RunPhase.RUNNING:
        if job.state == JobState.ADMITTED.value:
            job.state = JobState.RUNNING.value
            job.started_at = _ts(status.started_at, now)
            job.set_reason(Reason(ReasonCode.RUNNING_BORROWED if job.borrowed else ReasonCode.RUNNING,
                                  {"flavor": job.flavor or ""}))
            metering.charge(session, job, max(now, job.started_at), rates)  # balances move from the start
            return "job.start"
        return None
    # finished: charge up to the engine's end, then close
    if job.started_at is None:
        job.started_at = _ts(status.started_at, now)
    ended = _ts(status.ended_at, now)
    metering.charge(session, job, max(ended, job.started_at), rates)
    job.exit_code = status.exit_code
    if status.phase is RunPhase.LOST:
        requeue(job, Reason(ReasonCode.REQUEUED, {"detail": status.reason}) if status.reason
                else Reason(ReasonCode.RUN_LOST))
        return "job.lost"
    if status.phase is RunPhase.CANCELLED and job.preempt_requested and not job.cancel_requested:
        if job.reason_code == ReasonCode.REQUEUE_REQUESTED_BY.value:  # `aicc requeue` (services.job_control)
            requeue(job, Reason(ReasonCode.REQUEUED_BY, {"user": str((job.reason_params or {}).get("user", ""))}))
            return "job.requeued"
        requeue(job, Reason(ReasonCode.PREEMPTED))
        return "job.preempted"
    job.ended_at = ended
    if status.phase is RunPhase.SUCCEEDED:
        job.state = JobState.SUCCEEDED.value
        job.set_reason(Reason(ReasonCode.COMPLETED))
    elif status.phase is RunPhase.TIMED_OUT:
        job.state = JobState.TIMED_OUT.value
        job.set_reason(Reason(ReasonCode.TIME_LIMIT, {"seconds": job.time_limit_s}))
    elif status.phase is RunPhase.CANCELLED:
        job.state = JobState.CANCELLED.value
        if not job.cancel_requested:  # else it keeps who asked
            job.set_reason(Reason(ReasonCode.ENGINE, {"detail": status.reason}) if status.reason
                           else Reason(ReasonCode.CANCELLED_BY_ENGINE))
    else:
        job.state = JobState.FAILED.value
        job.set_reason(failure_reason(status))
    return f"job.{job.state}"


def failure_reason(status: RunStatus) -> Reason:
    """A failed run's reason as a code where the engine's words are one of the runner's own forms (compared
    whole with what the shepherd writes, never parsed), else the engine's words as they are."""
    code = status.exit_code
    if code is not None and status.reason in (None, "", f"exited with code {code}") and code >= 0:
        return Reason(ReasonCode.EXITED, {"code": code})
    if code is not None and code < 0 and status.reason == f"killed by signal {_signal_name(-code)}":
        return Reason(ReasonCode.SIGNALLED, {"signal": _signal_name(-code)})
    if status.reason and status.reason.startswith(OOM_PREFIX) and status.reason.endswith(")"):
        return Reason(ReasonCode.OUT_OF_MEMORY, {"limit": status.reason[len(OOM_PREFIX):-1]})
    if status.reason:
        return Reason(ReasonCode.ENGINE, {"detail": status.reason})
    return Reason(ReasonCode.EXITED, {"code": "?" if code is None else code})


OOM_PREFIX = "out of memory (limit "
"""What the local shepherd writes when the kernel killed the run at its memory limit (``executors.local``)."""


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
