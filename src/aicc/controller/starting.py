"""Start: ask the engine to run every admitted job, several at once, and record what it answered.

The job is already admitted (with its placement) before the engine is asked, and starting is idempotent by the
run's name, so a controller that crashes in between asks again after its restart and gets the same run.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from aicc.config import Settings
from aicc.controller.metrics import ControllerMetrics
from aicc.controller.reconcile import CycleReport
from aicc.core.datazone.states import needs_sandbox
from aicc.core.jobs import JobState, RunKind
from aicc.core.jobs.reasons import Reason, ReasonCode
from aicc.core.sessions import SOCKET_NAME as SESSION_SOCKET
from aicc.executors.base import EngineUnavailable, Executor, ImageSpec, Launch, Placement, SandboxSpec, StartsMany
from aicc.services import course_materials
from aicc.services.datazone.datasets import mounted_dir, sdc_env
from aicc.services.unix_ids import project_uids
from aicc.store.db import Database
from aicc.store.models import DatasetRow, FlavorRow, JobRow, NodeRow, ProjectRow, utcnow

if TYPE_CHECKING:
    from aicc.images.cache import ImageCache

log = logging.getLogger("aicc.controller")


class Starting:
    """Mixed into ``Controller``."""

    settings: Settings
    db: Database
    executor: Executor
    metrics: ControllerMetrics
    _pool: ThreadPoolExecutor
    images: ImageCache | None

    def wake(self) -> None: ...

    def _start(self, job_ids: list[int], report: CycleReport) -> None:
        """Ask the engine to start every admitted job, several at once (``sbatch`` takes ~10 ms each)."""
        images, waiting = self._stage_images(job_ids)
        job_ids = [j for j in job_ids if j not in waiting]
        launches: list[Launch] = []
        refused: list[tuple[int, str]] = []  # no identity to run as (uid range exhausted): fails with the reason
        with self.db.read() as s:
            owners = set(s.execute(select(JobRow.project_id).where(JobRow.id.in_(job_ids))).scalars())
        uids = project_uids(self.db, self.settings, owners)
        with self.db.read() as s:
            flavors = {f.name: f for f in s.execute(select(FlavorRow)).scalars()}
            for job_id in job_ids:
                job = s.get(JobRow, job_id)
                if job is None or job.state != JobState.ADMITTED.value or job.external_id or job.flavor not in flavors:
                    continue
                uid = uids.get(job.project_id)
                if isinstance(uid, str):
                    refused.append((job.id, uid))
                    continue
                project = s.get(ProjectRow, job.project_id)
                data = list(s.execute(select(DatasetRow).where(DatasetRow.id.in_(job.datasets))).scalars()) \
                    if job.datasets else []
                try:
                    workspace = self._workspace(s, job.project_id, uid) if uid is not None else None
                except Exception as exc:  # a workspace that cannot be made fails its job, not the cycle
                    log.error("workspace of project %s: %s", job.project_id, exc)
                    refused.append((job.id, f"the project's workspace could not be prepared: {exc}"))
                    continue
                launch = self._launch(job, flavors[job.flavor], project.name if project else "", data, uid,
                                      images.get(job.id))
                launches.append(dataclasses.replace(launch, workspace=None if launch.sandbox else workspace))
        if refused:
            with self.db.write() as s:
                for job_id, why in refused:
                    job = s.get(JobRow, job_id)
                    if job is not None and job.state == JobState.ADMITTED.value:
                        job.state, job.ended_at = JobState.FAILED.value, utcnow()
                        job.set_reason(Reason(ReasonCode.COULD_NOT_START, {"error": why}))
        if not launches:
            return
        t0 = time.perf_counter()
        if isinstance(self.executor, StartsMany):  # the engine batches (Slurm: like-shaped runs as one array)
            results = [self._outcome(launch, r) for launch, r in zip(
                launches, self.executor.start_many(launches, self._pool.map), strict=True)]
        else:
            results = list(self._pool.map(self._start_one, launches))
        took = time.perf_counter() - t0
        now = utcnow()
        with self.db.write() as s:
            for launch, (external, error) in zip(launches, results, strict=True):
                job = s.get(JobRow, launch.job_id)
                if job is None or job.state != JobState.ADMITTED.value:
                    continue
                if external is not None:
                    job.external_id = external
                    report.started.append(job.id)
                    self.metrics.start_latency.labels(self.executor.name).observe(took)
                    self.metrics.wait.observe(max((now - job.submitted_at).total_seconds(), 0.0))
                elif error is None:
                    continue  # the engine did not answer: still admitted, asked again next cycle
                else:
                    job.state, job.ended_at = JobState.FAILED.value, utcnow()
                    job.set_reason(Reason(ReasonCode.COULD_NOT_START, {"error": error}))

    def _workspace(self, s: Session, project_id: int, uid: int) -> Path:
        """The project's workspace (made on its first run, its quota brought up to date), for ``/workspace``.
        Where the file system cannot enforce the quota, a project over it starts nothing new (QuotaExceeded)."""
        from aicc.core.workspaces import QuotaExceeded
        from aicc.services.workspaces import quota_of, workspaces

        spaces, quota = workspaces(self.settings), quota_of(s, self.settings, project_id)
        ws = spaces.ensure(project_id, uid, quota)
        if not spaces.backend.enforced and (used := spaces.usage(project_id)) > quota:
            raise QuotaExceeded(f"it holds {used} bytes, over its quota of {quota} (measured: this file system "
                                "cannot enforce it); free space in the workspace, then resubmit")
        return ws.files

    def _stage_images(self, job_ids: list[int]) -> tuple[dict[int, ImageSpec], set[int]]:
        """Image jobs: the unpacked images of those ready to start, and those still pulling or just failed."""
        from aicc.images.cache import ImageCache
        from aicc.images.stage import stage

        if self.images is None:
            self.images = ImageCache(self.settings.images_dir, self.settings.registry_policy, on_change=self.wake)
        return stage(self.db, self.images, self.settings.registry_policy, self.executor.name, job_ids)

    def _start_one(self, launch: Launch) -> tuple[str | None, str | None]:
        try:
            return self._outcome(launch, self.executor.start(launch))
        except Exception as exc:  # a failed start fails the job, not the loop
            return self._outcome(launch, exc)

    @staticmethod
    def _outcome(launch: Launch, result: str | Exception) -> tuple[str | None, str | None]:
        """(engine id, None) started; (None, None) the engine did not answer: retry; (None, why) failed."""
        if not isinstance(result, Exception):
            return result, None
        if isinstance(result, EngineUnavailable):
            log.warning("the engine did not answer while starting job %s; retrying next cycle", launch.job_id)
            return None, None
        log.error("starting job %s failed: %s", launch.job_id, result)
        return None, str(result) or type(result).__name__

    def _launch(self, job: JobRow, flavor: FlavorRow, project: str, data: list[DatasetRow],
                unix_uid: int | None = None, image: ImageSpec | None = None) -> Launch:
        workdir = self.settings.jobs_dir / str(job.id)
        workdir.mkdir(parents=True, exist_ok=True)
        argv = list(job.command)
        script: Path | None = None
        if job.script is not None:
            script = workdir / "job.sh"
            script.unlink(missing_ok=True)  # never write through a link a job left in its directory
            # a script that names its interpreter (#!/usr/bin/env python3) runs under it, as sbatch runs it
            shebang = job.script.startswith("#!")
            fd = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o755 if shebang else 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(job.script)
            argv = [str(script)] if shebang else ["/bin/sh", str(script)]
        placements = [Placement(str(item[0]), tuple(item[1])) for item in (job.placement or [])]
        env = {**job.env, "AICC_PROJECT": project}
        if job.array_index is not None:
            env["AICC_ARRAY_TASK_ID"] = str(job.array_index)
            env["AICC_ARRAY_JOB_ID"] = str(job.array_id)
        sandbox = None
        readonly: tuple[Path, ...] = ()
        if needs_sandbox(d.classification for d in data):
            out = workdir / "out"
            out.mkdir(exist_ok=True)
            sandbox = SandboxSpec({d.name: mounted_dir(self.settings, d) for d in data}, out,
                                  readonly=(script,) if script is not None else ())
            env.update(sdc_env(data))
            env.update({"AICC_OUTPUT_DIR": "/out", "AICC_DATA_DIR": "/data"})
        else:
            for d in data:
                env[f"AICC_DATA_{d.name.upper().replace('-', '_')}"] = str(mounted_dir(self.settings, d))
            readonly = tuple(mounted_dir(self.settings, d) for d in data)
        s = object_session(job)
        materials = course_materials.for_run(s, self.settings, job.project_id) if s is not None and \
            sandbox is None else None
        if materials is not None:  # a course's runs: its materials, read-only
            readonly += (materials,)
            env["AICC_MATERIALS"] = str(materials)
        service = replica_launch(job)
        device_ids = {} if s is None or not placements or flavor.device_env is None else {
            name: tuple(ids) for name, ids in s.execute(select(NodeRow.name, NodeRow.devices).where(
                NodeRow.name.in_({p.node for p in placements}))) if ids}  # slices: MIG-<uuid> (inventory)
        return Launch(
            job_id=job.id, attempt=job.attempt, name=f"{self.settings.job_prefix}-{job.id}-{job.attempt}",
            argv=argv, workdir=workdir,
            env=env, flavor=flavor.name, device_env=flavor.device_env, placements=placements, cpus=job.cpus,
            memory_mb=job.memory_mb, time_limit_s=service.get("time_limit_s", job.time_limit_s),
            gres_type=flavor.name, sandbox=sandbox, unix_uid=unix_uid, readonly=readonly, image=image,
            tasks_per_node=job.tasks_per_node or 1, mpi=bool(job.mpi),
            extra=service.get("extra", {}), network=service.get("network", True), device_ids=device_ids,
        )


def replica_launch(job: JobRow) -> dict[str, Any]:
    """What differs for a service replica: its own network namespace (reached only through the relay's
    socket, no outbound network), its port for the relay, and no engine time limit (it was admitted for one
    replica-hour of budget; the supervisor keeps it while the budget lasts). For a session: the name of the
    socket its server makes, for an engine that relays it from another host."""
    if job.kind == RunKind.SESSION.value:  # an engine that relays (Slurm, TCP mode) bridges the session's socket
        return {"extra": {"session_socket": SESSION_SOCKET}}
    if job.kind != RunKind.SERVICE.value or job.service_id is None:
        return {}
    return {"network": False, "time_limit_s": REPLICA_RUN_LIMIT_S,
            "extra": {"service_port": job.env.get("AICC_SERVICE_PORT", "8000")}}


REPLICA_RUN_LIMIT_S = 10 * 365 * 86400

