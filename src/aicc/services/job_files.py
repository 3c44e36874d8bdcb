"""What an ordinary job wrote in its directory: listable and downloadable by its project, kept for a retention.

Only files the job made (owned by its project's uid) are shown: the server's own files there (run state,
batch scripts, logs served by ``/jobs/{id}/logs``) are not. A job on sensitive data has none of this: its
outputs are held for the custodian's review (``aicc.services.datazone.outputs``), and this says so.
Expired directories are removed by the controller's housekeeping, one audit event per job.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.config import Settings
from aicc.core.errors import Conflict
from aicc.services import audit, jobs
from aicc.services.principal import SYSTEM, Principal
from aicc.store.db import Database
from aicc.store.models import DatasetRow, JobRow, ProjectRow

log = logging.getLogger("aicc.services.job_files")


def job_dir(s: Session, actor: Principal, settings: Settings, job_id: int) -> tuple[Path, int | None]:
    """The job's directory and the uid its files belong to (404 for another tenant's job)."""
    job = jobs.get(s, actor, job_id)
    if job.datasets:
        kinds = s.execute(select(DatasetRow.classification).where(DatasetRow.id.in_(job.datasets))).scalars()
        if "sensitive" in set(kinds):
            raise Conflict("this job read sensitive data: its outputs are held for review (aicc outputs)")
    project = s.get(ProjectRow, job.project_id)
    return settings.jobs_dir / str(job.id), project.unix_uid if project else None


def expire(db: Database, settings: Settings, now: dt.datetime) -> int:
    """Remove the directories of jobs that ended more than the retention ago; returns how many."""
    cutoff = now - dt.timedelta(days=settings.job_files_retention_days)
    with db.read() as s:
        ended = s.execute(select(JobRow.id, JobRow.project_id).where(JobRow.ended_at.is_not(None),
                                                                      JobRow.ended_at < cutoff)).all()
    gone = [(job_id, project_id) for job_id, project_id in ended if (settings.jobs_dir / str(job_id)).is_dir()]
    if not gone:
        return 0
    with db.write() as s:
        orgs = dict(s.execute(select(ProjectRow.id, ProjectRow.organization_id)).all())
        for job_id, project_id in gone:
            audit.record(s, SYSTEM, "job.files_expired", "job", job_id, organization_id=orgs.get(project_id),
                         data={"retention_days": settings.job_files_retention_days})
    for job_id, _ in gone:  # after the audit events committed: nothing is deleted without one
        shutil.rmtree(settings.jobs_dir / str(job_id), ignore_errors=True)
    log.info("removed the directories of %d jobs past the %d-day retention", len(gone),
             settings.job_files_retention_days)
    return len(gone)
