"""The project's view of how a sensitive job ended: coarse until the custodian releases the details.

The exact exit code, signal and times stay on the job's row (the scheduler and
the meter need them) and go into the held ``run.json``; what a member of the
project reads through the API or the portal is replaced by ``core.datazone.outcome``
until a custodian approves that file. Custodians (and center admins) always see
the exact values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.config import Settings
from aicc.core.datazone.outcome import coarse, sandbox_never_started
from aicc.core.datazone.states import SANDBOXED, FileDecision
from aicc.executors.base import log_file
from aicc.services.datazone.datasets import is_custodian
from aicc.services.datazone.files import read_limited
from aicc.services.datazone.outputs import RUN_FILE
from aicc.services.principal import Principal
from aicc.store.models import DatasetRow, JobRow, OutputFileRow, OutputRequestRow

FINISHED = frozenset({"succeeded", "failed", "timed_out", "cancelled"})
SANDBOX_STATUS = "sandbox-status.json"
"""bubblewrap's ``--json-status-fd`` record, written by the runner beside the logs (outside ``/out``)."""
SANDBOX_PREFIXES = ("bwrap:", "prlimit:")


def held_overrides(s: Session, actor: Principal, jobs: Sequence[JobRow],
                   settings: Settings | None = None) -> dict[int, dict[str, Any]]:
    """job id -> the fields that replace the exact ones in ``actor``'s view; jobs not listed are shown as
    they are. Two queries for any number of jobs, none when no job read a dataset."""
    done = [j for j in jobs if j.datasets and j.state in FINISHED]
    if not done or actor.is_center_admin:
        return {}
    wanted = {d for j in done for d in j.datasets}
    owner = {i: o for i, o in s.execute(select(DatasetRow.id, DatasetRow.organization_id).where(
        DatasetRow.id.in_(wanted), DatasetRow.classification.in_(SANDBOXED)))}
    held = {j.id: j for j in done if any(d in owner for d in j.datasets)
            and not any(is_custodian(actor, owner[d]) for d in j.datasets if d in owner)}
    if not held:
        return {}
    released = set(s.execute(select(OutputRequestRow.job_id).join(
        OutputFileRow, OutputFileRow.request_id == OutputRequestRow.id).where(
        OutputRequestRow.job_id.in_(held), OutputFileRow.path == RUN_FILE,
        OutputFileRow.decision == FileDecision.APPROVED)).scalars())
    out: dict[int, dict[str, Any]] = {}
    for job_id, j in held.items():
        if job_id in released:
            continue
        c = coarse(j.state, j.reason, j.started_at, j.ended_at, cancelled_by_request=j.cancel_requested,
                   sandbox_lines=_sandbox_lines(settings, j) if settings and j.state == "failed" else None)
        # the code and its parameters would render the exact reason ("exited with code 3"): the coarse text only
        out[job_id] = {"exit_code": None, "reason": c.reason, "reason_code": None, "reason_params": None,
                       "started_at": c.started_at, "ended_at": c.ended_at}
    return out


def _sandbox_lines(settings: Settings, job: JobRow) -> list[str] | None:
    """The sandbox's own error lines, only when its trusted status record says the command never started
    (then nothing in stderr came from the job)."""
    workdir = settings.jobs_dir / str(job.id)
    status = read_limited(workdir / SANDBOX_STATUS, 64 * 1024)
    if status is None or not sandbox_never_started(status.decode("utf-8", "replace").splitlines()):
        return None
    err = read_limited(workdir / log_file("stderr"), 64 * 1024) or b""
    return [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.startswith(SANDBOX_PREFIXES)]


def audit_data(s: Session, job: JobRow, data: dict[str, Any]) -> dict[str, Any]:
    """The data of a finished job's audit event, coarse for a held job: its project's organization admins
    read the event (the exact values are in the held ``run.json``)."""
    if not job.datasets or job.state not in FINISHED:
        return data
    sensitive = s.execute(select(DatasetRow.id).where(
        DatasetRow.id.in_(job.datasets), DatasetRow.classification.in_(SANDBOXED))).first()
    if sensitive is None:
        return data
    return {**data, "exit_code": None, "reason": "held with the job's outputs"}
