"""Reconcile: what the engine says about live runs goes into the database; cancels are signalled; usage metered.

Engine calls never happen inside a database transaction (a slow ``squeue`` must not hold SQLite's write lock).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from aicc.config import Settings
from aicc.controller.lifecycle import apply_status
from aicc.controller.metrics import ControllerMetrics
from aicc.core.jobs import LIVE, JobState
from aicc.executors.base import Executor, RunPhase, RunStatus
from aicc.runner.relay import forget_engine_relays
from aicc.services import audit, metering
from aicc.services.datazone import outputs, runs
from aicc.services.notify import events as notify_events
from aicc.services.principal import Principal
from aicc.store.db import Database
from aicc.store.models import JobRow, ProjectRow, utcnow

log = logging.getLogger("aicc.controller")
METER_EVERY = dt.timedelta(seconds=60)
WRITE_CHUNK = 64
"""Runs whose news one reconcile transaction writes at most (see ``_write_news``)."""


@dataclass
class CycleReport:
    finished: list[int] = field(default_factory=list)
    started: list[int] = field(default_factory=list)
    preempted: list[int] = field(default_factory=list)
    capped: bool = False  # the cycle stopped at its admission cap; more may fit
    seconds: float = 0.0


class Reconciling:
    """The controller's first step each full cycle (mixed into ``Controller``)."""

    settings: Settings
    db: Database
    executor: Executor
    metrics: ControllerMetrics
    _signalled: set[str]

    def _reconcile(self, report: CycleReport) -> None:
        with self.db.read() as s:
            live = s.execute(select(JobRow.id, JobRow.attempt, JobRow.external_id, JobRow.state).where(
                JobRow.state.in_(LIVE), JobRow.external_id.is_not(None))).all()
        if not live:
            return
        statuses = self.executor.reconcile([(i, a, e) for i, a, e, _ in live if e])
        known = {i: state for i, _, _, state in live}
        # Only news is written: a run still starting, or still running as recorded, changes nothing (a center
        # with thousands of running jobs would otherwise load each of them at every tick).
        news = [st for st in statuses if st.phase is not RunPhase.STARTING and not (
            st.phase is RunPhase.RUNNING and known.get(st.job_id) == JobState.RUNNING.value)]
        if not news:
            return
        now = utcnow()
        for first in range(0, len(news), WRITE_CHUNK):
            self._write_news(news[first:first + WRITE_CHUNK], now, report)
        for job_id in report.finished:
            self._ingest_benchmark(job_id)
            forget_engine_relays(self.settings.jobs_dir, job_id)  # a run's relay (Slurm): its secret goes with it

    def _write_news(self, news: list[RunStatus], now: dt.datetime, report: CycleReport) -> None:
        """One bounded write transaction for a chunk of the engine's news: with hundreds of runs ending in a
        tick, one transaction for all held SQLite's write lock for over a second and every submission waited
        behind it. Each chunk commits on its own; a crash between chunks leaves the rest to the next tick,
        which reads the engine again (a run's ending is written once: it is news only while still live)."""
        changed: list[JobRow] = []
        with self.db.write() as s:
            rates = metering.flavor_rates(s)
            rows = {j.id: j for j in s.execute(select(JobRow).where(
                JobRow.id.in_([st.job_id for st in news]))).scalars()}
            # The runs' audit events are appended together (one head lock, one tip check, one insert), in the
            # order they happened: one append per run was a third of the controller's time under a stream of
            # short jobs. A held job's outputs are audited after its own event, as before.
            events: list[tuple[Principal | None, str, str, object, int | None, Mapping[str, Any]]] = []
            for st in news:
                job = rows.get(st.job_id)
                if job is None or job.attempt != st.attempt or job.state not in LIVE:
                    continue
                action = apply_status(job, st, now, rates, s)
                if action:
                    org = s.get(ProjectRow, job.project_id)
                    events.append((None, action, "job", job.id, org.organization_id if org else None,
                                   runs.audit_data(s, job, {"attempt": st.attempt, "phase": st.phase.value,
                                                            "exit_code": st.exit_code, "reason": st.reason})))
                    if st.phase.finished:
                        if job.state not in LIVE and job.state != JobState.PENDING.value and job.datasets:
                            audit.record_many(s, events)
                            events = []
                            self._hold_outputs(s, job)
                        report.finished.append(job.id)
                        self._signalled.discard(st.external_id)
                        changed.append(job)
            # in this transaction: a notification exists exactly when the ending it tells of was committed
            notify_events.jobs_ended(s, changed, base_url=self.settings.public_url or "")
            notify_events.budget_thresholds(s, {j.allocation_id for j in changed if j.allocation_id is not None},
                                            base_url=self.settings.public_url or "")
            audit.record_many(s, events)

    def _hold_outputs(self, s: Session, job: JobRow) -> None:
        """Quarantine a sensitive job's outputs; a failure is logged and never stops the cycle (nothing of the
        job is released without a request, so the safe default holds)."""
        try:
            with s.begin_nested():
                outputs.hold(s, self.settings, job)
        except Exception:
            log.exception("holding the outputs of job %s failed; none of them can be released", job.id)

    def _ingest_benchmark(self, job_id: int) -> None:
        """A finished benchmark job's result goes into the matrix at once; any other job is left alone.
        A failure here is logged and never stops the cycle (``aicc bench ingest`` can retry)."""
        from aicc.services.testbed import auto_ingest

        try:
            with self.db.write() as s:
                auto_ingest(s, self.settings, job_id)
        except Exception:
            log.exception("ingesting the benchmark result of job %s failed", job_id)

    def _signal_cancels(self) -> None:
        with self.db.read() as s:
            targets = [j.external_id for j in s.execute(select(JobRow).where(
                JobRow.state.in_(LIVE), JobRow.external_id.is_not(None),
                JobRow.cancel_requested | JobRow.preempt_requested)).scalars() if j.external_id]
        for ext in targets:
            if ext not in self._signalled:
                self.executor.cancel(ext, self.settings.preempt_grace_s)
                self._signalled.add(ext)

    def _meter(self, now: dt.datetime) -> None:
        charged: set[int] = set()
        with self.db.write() as s:
            rates = metering.flavor_rates(s)
            due = now - METER_EVERY
            for job in s.execute(select(JobRow).where(
                    JobRow.state == JobState.RUNNING.value, JobRow.started_at.is_not(None),
                    or_(JobRow.metered_until <= due, and_(JobRow.metered_until.is_(None),
                                                          JobRow.started_at <= due)))).scalars():
                last = job.metered_until or job.started_at
                if last is not None and now - last >= METER_EVERY and metering.charge(s, job, now, rates):
                    charged.add(job.allocation_id)  # type: ignore[arg-type] # charged: it has one
            notify_events.budget_thresholds(s, charged, base_url=self.settings.public_url or "")
