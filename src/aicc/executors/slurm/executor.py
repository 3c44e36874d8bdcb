"""``SlurmExecutor``: AICC's Executor protocol on a real Slurm cluster.

Slurm is the engine of record: the job name carries the AICC id, so a
restarted controller (a new ``SlurmExecutor``) finds its runs by name and by
Slurm job id in ``squeue`` and in the ``jobcomp/filetxt`` log. Nothing is kept
in memory that a restart would need.

Cancel is one ``scancel``: Slurm sends SIGTERM, waits the cluster's
``KillWait`` and sends SIGKILL, and records the job CANCELLED. That grace is
enforced by slurmctld even if AICC dies meanwhile, which a timer here could
not promise; ``grace_s`` beyond ``KillWait`` is therefore not honoured (the
constructor's config carries ``kill_wait_s`` so callers can see it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aicc.executors.base import Launch, RunStatus
from aicc.executors.slurm import batch
from aicc.executors.slurm.commands import SlurmError, run_slurm, run_slurm_json, slurm_env
from aicc.executors.slurm.config import SlurmConfig
from aicc.executors.slurm.records import JobCompLog, SlurmJobRecord, from_squeue_job
from aicc.executors.slurm.states import lost_status, run_status

_ALIVE = ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED")


class SlurmExecutor:
    name = "slurm"

    def __init__(self, config: SlurmConfig) -> None:
        self.config = config
        self._jobcomp = JobCompLog(config.jobcomp_log)
        self._looked_up: dict[str, SlurmJobRecord | None] = {}

    # -- reading Slurm ------------------------------------------------------------
    def queue(self) -> list[SlurmJobRecord]:
        """Every job slurmctld holds (live, and finished within ``MinJobAge``).

        22.05's ``squeue --json`` ignores filters such as ``--name``, so filtering
        happens here, on one call per reconcile.
        """
        jobs = run_slurm_json(self.config, ["squeue", "--json"]).get("jobs", [])
        try:
            return [from_squeue_job(job) for job in jobs]
        except (KeyError, TypeError, ValueError) as exc:
            raise SlurmError(f"squeue --json gave a job we cannot read: {exc}") from exc

    def find_by_name(self, name: str) -> SlurmJobRecord | None:
        """The newest job with this name: live ones first, then the completion log."""
        return self._find_all([name])[name]

    def _find_all(self, names: Sequence[str]) -> dict[str, SlurmJobRecord | None]:
        queued: dict[str, list[SlurmJobRecord]] = {}
        for record in self.queue():
            queued.setdefault(record.name, []).append(record)
        self._jobcomp.refresh()
        found: dict[str, SlurmJobRecord | None] = {}
        for name in names:
            matches = queued.get(name, [])
            live = [r for r in matches if r.state in _ALIVE]
            found[name] = max(live or matches, key=lambda r: r.job_id) if matches else self._jobcomp.by_name(name)
        return found

    def expect_starts(self, launches: Sequence[Launch]) -> None:
        """The controller is about to start these runs: look for the ones that may already be in Slurm in one
        ``squeue`` instead of one each (a full ``squeue --json`` costs as much as an ``sbatch``).

        A run may be in Slurm only if its batch script exists: ``start`` writes it before ``sbatch``, so a
        controller that crashed after submitting finds it, and a first start asks Slurm nothing."""
        maybe = [launch.name for launch in launches if batch.batch_script_path(launch).exists()]
        self._looked_up = self._find_all(maybe) if maybe else {}
        self._looked_up.update((launch.name, None) for launch in launches if launch.name not in self._looked_up)

    # -- Executor protocol ----------------------------------------------------------
    def start(self, launch: Launch) -> str:
        if launch.name in self._looked_up:
            existing = self._looked_up.pop(launch.name)
        else:
            existing = self.find_by_name(launch.name)
        if existing is not None:
            return str(existing.job_id)
        launch.workdir.mkdir(parents=True, exist_ok=True)
        script = batch.batch_script_path(launch)
        script.write_text(batch.batch_script(launch))
        script.chmod(0o755)
        out = run_slurm(
            self.config,
            batch.sbatch_argv(launch, self.config),
            env=slurm_env(self.config, batch.job_env(launch)),
        )
        job_id = out.strip().split(";")[0]
        if not job_id.isdigit():
            raise SlurmError(f"sbatch gave no job id: {out!r}")
        return job_id

    def reconcile(self, runs: Sequence[tuple[int, int, str]]) -> list[RunStatus]:
        if not runs:
            return []
        queued = {r.job_id: r for r in self.queue()}
        self._jobcomp.refresh()
        statuses = []
        for job_id, attempt, external_id in runs:
            slurm_id = int(external_id) if external_id.isdigit() else -1
            record = queued.get(slurm_id) or self._jobcomp.by_id(slurm_id)
            if record is None:
                statuses.append(lost_status(job_id, attempt, external_id))
            else:
                statuses.append(run_status(job_id, attempt, record))
        return statuses

    def cancel(self, external_id: str, grace_s: float) -> None:
        """SIGTERM now, SIGKILL after the cluster's ``KillWait`` (see module docstring)."""
        if not external_id.isdigit():
            raise SlurmError(f"not a Slurm job id: {external_id!r}")
        run_slurm(self.config, ["scancel", external_id])

    def node_availability(self) -> dict[str, bool]:
        """Nodes AICC may place work on now: drained, down or not responding ones are not."""
        from aicc.executors.slurm.inventory import read_inventory

        return {n.name: n.available for n in read_inventory(self.config)}

    def log_paths(self, workdir: Path) -> tuple[Path, Path]:
        return workdir / batch.STDOUT_NAME, workdir / batch.STDERR_NAME
