"""Slurm job states -> AICC run phases, with a reason a person can read.

Only this module knows Slurm's state names. Anything Slurm ended without AICC
asking (node failure, Slurm's own preemption) is LOST, so the controller decides
about a retry; a job Slurm simply does not know any more is LOST as well.
"""

from __future__ import annotations

import re

from aicc.executors.base import RunPhase, RunStatus
from aicc.executors.slurm.records import SlurmJobRecord
from aicc.runner.cgroups import human_mb
from aicc.runner.launch import NOT_ISOLATED

_PHASES: dict[str, RunPhase] = {
    "PENDING": RunPhase.STARTING,
    "CONFIGURING": RunPhase.STARTING,
    "REQUEUED": RunPhase.STARTING,
    "REQUEUE_HOLD": RunPhase.STARTING,
    "REQUEUE_FED": RunPhase.STARTING,
    "RESV_DEL_HOLD": RunPhase.STARTING,
    "RUNNING": RunPhase.RUNNING,
    "COMPLETING": RunPhase.RUNNING,
    "SUSPENDED": RunPhase.RUNNING,
    "STOPPED": RunPhase.RUNNING,
    "SIGNALING": RunPhase.RUNNING,
    "STAGE_OUT": RunPhase.RUNNING,
    "RESIZING": RunPhase.RUNNING,
    "COMPLETED": RunPhase.SUCCEEDED,
    "FAILED": RunPhase.FAILED,
    "OUT_OF_MEMORY": RunPhase.FAILED,
    "SPECIAL_EXIT": RunPhase.FAILED,
    "TIMEOUT": RunPhase.TIMED_OUT,
    "DEADLINE": RunPhase.TIMED_OUT,
    "CANCELLED": RunPhase.CANCELLED,
    "NODE_FAIL": RunPhase.LOST,
    "BOOT_FAIL": RunPhase.LOST,
    "PREEMPTED": RunPhase.LOST,
    "REVOKED": RunPhase.LOST,
}


def phase_of(state: str) -> RunPhase:
    """Unknown (newer) states count as still running: never lose a run by guessing."""
    return _PHASES.get(state.upper(), RunPhase.RUNNING)


_RANK_COMMENT = re.compile(r"aicc: rank (\d{1,7}) failed with exit code (-?\d{1,3})")


def _reason(record: SlurmJobRecord, phase: RunPhase) -> str | None:
    nodes = record.nodes or "its node"
    state = record.state
    if state == "NODE_FAIL":
        return f"node {nodes} failed"
    if state == "BOOT_FAIL":
        return f"node {nodes} failed to boot"
    if state == "PREEMPTED":
        return "preempted by Slurm"
    if state == "REVOKED":
        return "revoked by Slurm (federation)"
    if state == "OUT_OF_MEMORY":
        return f"out of memory (limit {human_mb(record.memory_mb)})" if record.memory_mb else "out of memory"
    if state == "DEADLINE":
        return "deadline reached"
    if phase is RunPhase.TIMED_OUT:
        if record.time_limit_min:
            return f"time limit {record.time_limit_min} min reached"
        return "time limit reached"
    if phase is RunPhase.CANCELLED:
        return "cancelled"
    if phase is RunPhase.FAILED:
        failed_rank = _RANK_COMMENT.fullmatch(record.comment)
        if failed_rank:  # a multi-node run: the rank that failed first (executors/slurm/gang.py)
            return f"rank {failed_rank.group(1)} exited with code {failed_rank.group(2)}"
        code = record.exit_code
        if code == NOT_ISOLATED:
            return "not started: the job could not be isolated on its node (its stderr log says why)"
        if code is not None and code > 128:
            return f"killed by signal {code - 128}"
        return f"exit code {code}" if code is not None else "failed"
    if phase is RunPhase.STARTING and record.reason and record.reason != "None":
        return f"waiting in Slurm: {record.reason}"
    return None


def run_status(job_id: int, attempt: int, record: SlurmJobRecord, external_id: str | None = None) -> RunStatus:
    """``external_id``: AICC's id for the run when it is not the record's own (an array task, "123_4")."""
    phase = phase_of(record.state)
    return RunStatus(
        job_id=job_id,
        attempt=attempt,
        external_id=external_id or str(record.job_id),
        phase=phase,
        started_at=record.start_time if phase is not RunPhase.STARTING else None,
        ended_at=record.end_time if phase.finished else None,
        exit_code=record.exit_code if phase.finished else None,
        reason=_reason(record, phase),
    )


def lost_status(job_id: int, attempt: int, external_id: str) -> RunStatus:
    return RunStatus(
        job_id=job_id,
        attempt=attempt,
        external_id=external_id,
        phase=RunPhase.LOST,
        reason=f"Slurm job {external_id} is neither in the queue nor in the completion log",
    )
