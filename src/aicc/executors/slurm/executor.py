"""``SlurmExecutor``: AICC's Executor protocol on a real Slurm cluster.

Slurm is the engine of record: the job name carries the AICC id, so a
restarted controller (a new ``SlurmExecutor``) finds its runs by name and by
Slurm job id in ``squeue`` and in the ``jobcomp/filetxt`` log. Nothing is kept
in memory that a restart would need.

Like-shaped runs started in one cycle (same partition, nodes, GRES, CPUs,
memory and limit) go to Slurm as one array, so AICC asks less of slurmctld
than a user's ``sbatch`` loop would: each task runs its own batch script in its
own directory with its own environment and log files, and AICC's id for it is
Slurm's ``<array id>_<task>``. A marker in the run's directory, written before
``sbatch``, names the array, so a restarted controller finds the run there.

Cancel is one ``scancel``: Slurm sends SIGTERM, waits the cluster's
``KillWait`` and sends SIGKILL, and records the job CANCELLED. That grace is
enforced by slurmctld even if AICC dies meanwhile, which a timer here could
not promise; ``grace_s`` beyond ``KillWait`` is therefore not honoured (the
constructor's config carries ``kill_wait_s`` so callers can see it).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from aicc.executors.base import Launch, RunStatus
from aicc.executors.slurm import batch, gang
from aicc.executors.slurm.commands import SlurmError, SlurmUnavailable, run_slurm, run_slurm_json, slurm_env
from aicc.executors.slurm.config import SlurmConfig
from aicc.executors.slurm.records import JobCompLog, SlurmJobRecord, from_squeue_job, task_in
from aicc.executors.slurm.states import lost_status, run_status
from aicc.executors.tasks import is_multi
from aicc.runner.identity import UidRange

_ALIVE = ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED")
_RUN_ID = re.compile(r"(\d+)(?:_(\d+))?\Z")
MAX_ARRAY = 1000  # below Slurm's default MaxArraySize (1001)
Outcomes = list[tuple[str, "str | Exception"]]  # per run name: its Slurm id, or why it did not start


def _run_id(external_id: str) -> tuple[int, int | None] | None:
    """"123" -> (123, None); "123_4" (task 4 of array 123) -> (123, 4); anything else -> None."""
    match = _RUN_ID.match(external_id)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)) if match.group(2) is not None else None


def _device_pattern(launch: Launch) -> str:
    """Where the node's device of GPU index i is, for the runner to bind the ones Slurm allocated (an image's
    GPU view is built at submit time from AICC's placement and is not rebound)."""
    from aicc.executors.local.isolation import DEVICE_NODES

    pattern = DEVICE_NODES.get(launch.device_env or "")
    return f"/dev/{pattern}" if pattern and launch.image is None else ""


def _relay(launch: Launch, uid: int, config: SlurmConfig) -> dict[str, Any]:
    """A service replica's relay (``aicc.runner.relay.spawn``): its directory made here, the project's own
    (0700) under ``<jobs>/relays`` (root's, 0711), which no run's sandbox shows, so the job cannot swap what is
    in it. Unix mode: the relay's socket there, reached only where the node is the server's host. TCP mode
    (``config.relay``): a port on the node, published there, and the replica's secret, made here and kept there
    (root's, readable by the project's group: the runner reads it; the spec, which the job sees, names only
    the file). A second try of the same attempt (a controller that crashed before sbatch) keeps its secret.
    A session gets the same in TCP mode, its relay dialling the socket its server makes in its run directory
    (in Unix mode the proxy dials that socket itself, the node being the server's host)."""
    port = launch.extra.get("service_port")
    session_socket = launch.extra.get("session_socket") if config.relay == "tcp" else None
    if not port and not session_socket:  # a session in Unix mode: the proxy dials its socket in the run directory
        return {}
    from aicc.executors.local.isolation import own_dir
    from aicc.runner.relay import engine_socket
    from aicc.runner.relay_address import SECRET_NAME, new_secret

    sock = engine_socket(launch.workdir.parent, launch.job_id, launch.attempt)
    sock.parent.parent.mkdir(mode=0o711, exist_ok=True)
    sock.parent.mkdir(mode=0o700, exist_ok=True)
    own_dir(sock.parent, uid, uid, 0o700)
    out: dict[str, Any] = {"relay_port": int(port) if port else None, "relay_socket": str(sock)}
    if config.relay != "tcp":
        return out
    secret_file = sock.parent / SECRET_NAME
    if not (secret_file.is_file() and not secret_file.is_symlink() and secret_file.stat().st_uid == 0):
        secret_file.unlink(missing_ok=True)
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o640)
        with os.fdopen(fd, "w") as f:
            os.fchown(f.fileno(), 0, uid)
            os.fchmod(f.fileno(), 0o640)
            f.write(new_secret())
    out |= {"relay_bind": config.relay_bind, "relay_secret_file": str(secret_file)}
    if session_socket:  # the relay dials the session's own socket on the node, not a port inside its run
        out["relay_target"] = str(launch.workdir / session_socket)
    return out


class SlurmExecutor:
    name = "slurm"

    def __init__(self, config: SlurmConfig, *, uids: UidRange | None = None, isolate: bool = True) -> None:
        self.config = config
        self._jobcomp = JobCompLog(config.jobcomp_log)
        self.uids = uids or UidRange()
        self.isolate = isolate
        self._mpi: list[str] | None = None
        """Every run through ``aicc.runner`` inside its batch step (the default; off only for script tests)."""

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

    # -- Executor protocol ----------------------------------------------------------
    def start(self, launch: Launch) -> str:
        [result] = self.start_many([launch])
        if isinstance(result, Exception):
            raise result
        return result

    def start_many(self, launches: Sequence[Launch],
                   map_: Callable[..., Iterable[Outcomes]] = map) -> list[str | Exception]:
        """Start these runs, like-shaped ones as arrays; per run its id, or why it did not start
        (``SlurmUnavailable``: ask again later). ``map_`` may submit the batches in parallel."""
        try:
            results: dict[str, str | Exception] = dict(self._already_in_slurm(launches))
        except SlurmUnavailable as exc:
            return [exc for _ in launches]
        groups: dict[tuple[str, ...], list[Launch]] = {}
        batches: list[list[Launch]] = []
        for launch in launches:
            if launch.name in results:
                continue
            try:
                uid = self._uid(launch)
            except Exception as exc:  # no identity to run it as: this run fails, the others go on
                results[launch.name] = exc
                continue
            key = batch.array_key(launch, self.config, uid)
            if key is None:
                batches.append([launch])
            else:
                groups.setdefault(key, []).append(launch)
        for group in groups.values():
            batches += [group[i:i + MAX_ARRAY] for i in range(0, len(group), MAX_ARRAY)]
        for pairs in map_(self._submit, batches):
            results.update(pairs)
        return [results[launch.name] for launch in launches]

    def _already_in_slurm(self, launches: Sequence[Launch]) -> dict[str, str]:
        """Runs a controller started before it crashed. Only a run whose batch script exists can be in Slurm
        (it is written before ``sbatch``), so a first start asks Slurm nothing; the rest cost one squeue."""
        alone: list[Launch] = []
        in_arrays: dict[str, list[tuple[Launch, int]]] = {}
        for launch in launches:
            marker = batch.array_marker_path(launch)
            if marker.exists():
                array_name, _, task = marker.read_text().strip().partition(" ")
                if task.isdigit():
                    in_arrays.setdefault(array_name, []).append((launch, int(task)))
                    continue
            if batch.batch_script_path(launch).exists():
                alone.append(launch)
        if not alone and not in_arrays:
            return {}
        found = self._find_all([launch.name for launch in alone] + list(in_arrays))
        ids = {launch.name: str(record.job_id) for launch in alone if (record := found[launch.name])}
        for array_name, members in in_arrays.items():
            record = found[array_name]
            if record is not None:
                array_id = record.array_job_id or record.job_id
                ids.update((launch.name, f"{array_id}_{task}") for launch, task in members)
        return ids

    def _submit(self, launches: list[Launch]) -> Outcomes:
        try:
            if len(launches) == 1:
                return [(launches[0].name, self._submit_one(launches[0]))]
            array_id = self._submit_array(launches)
            return [(launch.name, f"{array_id}_{i}") for i, launch in enumerate(launches)]
        except Exception as exc:  # per run: the controller fails or retries each
            return [(launch.name, exc) for launch in launches]

    def _uid(self, launch: Launch) -> int | None:
        """The project's uid the run goes to Slurm under (None: not isolated, the script tests only); its
        account is made here the first time (``accounts``), since sbatch refuses a uid nobody has."""
        if not self.isolate:
            return None
        from aicc.executors.local import isolation
        from aicc.executors.slurm.accounts import ensure_account

        uid = isolation.uid_of(launch, self.uids)
        ensure_account(uid)
        return uid

    def _write_script(self, launch: Launch) -> int | None:
        """The batch script and, beside it, the runner's spec. Slurm starts the step as the project's uid
        (``sbatch --uid/--gid``) in its own cgroups (``task/cgroup``: memory, cores, devices); the step runs
        the job through ``aicc.runner`` as the local shepherd does, which checks that identity and those
        limits instead of making them, then builds bubblewrap's view. Both files are root's in a directory
        the job cannot rename in. Returns the uid the run goes to Slurm under."""
        launch.workdir.mkdir(parents=True, exist_ok=True)
        if is_multi(launch):
            return self._write_gang(launch)
        runner = None
        uid = self._uid(launch)
        if uid is not None:
            from aicc.executors.local import isolation

            isolation.prepare_dirs(launch, uid)
            env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(launch.workdir), "LANG": "C.UTF-8",
                   **batch.job_env(launch)}
            spec = isolation.run_spec(launch, env, uid=uid, device_root=Path("/dev"), engine="slurm")
            spec = dataclasses.replace(spec, passthrough=[*batch.SLURM_PASSTHROUGH, "SLURM_*", "SLURMD_*"],
                                       step=True, engine_identity=True,
                                       engine_devices=_device_pattern(launch), **_relay(launch, uid, self.config))
            isolation.write_new(batch.run_spec_path(launch), json.dumps(spec.to_json()))
            runner = [sys.executable, "-I", "-m", "aicc.runner"]
        from aicc.executors.local.isolation import write_new

        write_new(batch.batch_script_path(launch), batch.batch_script(launch, runner), 0o755)
        return uid

    def _write_gang(self, launch: Launch) -> int | None:
        """A multi-node run: ``srun`` of every rank inside the batch step (``gang.py``), each rank through the
        runner as a single run is, in the identity and cgroups Slurm gave the step. Returns the uid."""
        from aicc.executors.local import isolation

        if launch.mpi and gang.MPI_PLUGIN not in self._mpi_plugins():
            raise SlurmError(f"--mpi: this Slurm cluster has no MPI launcher for it (srun --mpi={gang.MPI_PLUGIN} "
                             f"is not among srun --mpi=list: {', '.join(self._mpi_plugins()) or 'none'})")
        uid = self._uid(launch)
        if uid is not None:
            isolation.prepare_dirs(launch, uid)
        gang.write(launch, [sys.executable, "-I", "-m", "aicc.runner"] if uid is not None else None, uid,
                   engine_devices=_device_pattern(launch))
        return uid

    def _mpi_plugins(self) -> list[str]:
        """The MPI plugins this cluster's ``srun`` offers (asked once per executor)."""
        if self._mpi is None:
            out = run_slurm(self.config, ["srun", "--mpi=list"])
            self._mpi = [line.strip() for line in out.splitlines() if line[:1].isspace() and line.strip()]
        return self._mpi

    def _submit_one(self, launch: Launch) -> str:
        uid = self._write_script(launch)
        batch.array_marker_path(launch).unlink(missing_ok=True)  # an earlier try as an array did not happen
        out = run_slurm(
            self.config,
            batch.sbatch_argv(launch, self.config, uid),
            env=slurm_env(self.config, batch.job_env(launch)),
        )
        return self._job_id(out)

    def _submit_array(self, launches: list[Launch]) -> str:
        name = f"{launches[0].name}-x{len(launches)}-{uuid.uuid4().hex[:6]}"
        directory = launches[0].workdir.parent / ".slurm-arrays" / name
        directory.mkdir(parents=True)
        uid = None
        for i, launch in enumerate(launches):
            uid = self._write_script(launch)  # the same for all: it is part of the array's key
            (directory / str(i)).symlink_to(launch.workdir.resolve(), target_is_directory=True)
            batch.array_marker_path(launch).write_text(f"{name} {i}\n")
        dispatch = directory / "dispatch.sh"
        dispatch.write_text(batch.array_script(launches))
        dispatch.chmod(0o755)
        out = run_slurm(self.config, batch.array_sbatch_argv(launches, self.config, name, directory, uid),
                        env=slurm_env(self.config))
        return self._job_id(out)

    @staticmethod
    def _job_id(out: str) -> str:
        job_id = out.strip().split(";")[0]
        if not job_id.isdigit():
            raise SlurmError(f"sbatch gave no job id: {out!r}")
        return job_id

    def reconcile(self, runs: Sequence[tuple[int, int, str]]) -> list[RunStatus]:
        if not runs:
            return []
        queue = self.queue()
        by_id = {r.job_id: r for r in queue}
        by_task = {r.array_key: r for r in queue if r.array_key is not None}
        unsplit = {r.array_job_id or r.job_id: r for r in queue if r.array_pending}  # tasks not yet started
        self._jobcomp.refresh()
        statuses = []
        for job_id, attempt, external_id in runs:
            parsed = _run_id(external_id)
            record: SlurmJobRecord | None = None
            if parsed is not None and parsed[1] is None:
                record = by_id.get(parsed[0]) or self._jobcomp.by_id(parsed[0])
            elif parsed is not None and parsed[1] is not None:
                array_id, task = parsed[0], parsed[1]
                record = by_task.get((array_id, task))
                waiting = unsplit.get(array_id)
                if record is None and waiting is not None and task_in(waiting.array_pending, task):
                    record = waiting
                record = record or self._jobcomp.by_task(array_id, task)
            if record is None:
                statuses.append(lost_status(job_id, attempt, external_id))
            else:
                statuses.append(run_status(job_id, attempt, record, external_id))
        return statuses

    def cancel(self, external_id: str, grace_s: float) -> None:
        """SIGTERM now, SIGKILL after the cluster's ``KillWait`` (see module docstring)."""
        parsed = _run_id(external_id)
        if parsed is None:
            raise SlurmError(f"not a Slurm job id: {external_id!r}")
        if parsed[1] is not None:
            # A task still waiting inside its array would vanish without a record; held, it becomes a job of
            # its own, which the cancel leaves CANCELLED in the queue and the completion log.
            try:
                run_slurm(self.config, ["scontrol", "hold", external_id])
            except SlurmUnavailable:
                raise
            except SlurmError:
                pass  # already running or ended: nothing waits to be split off
        run_slurm(self.config, ["scancel", external_id])

    def node_availability(self) -> dict[str, bool]:
        """Nodes AICC may place work on now: drained, down or not responding ones are not."""
        from aicc.executors.slurm.inventory import read_inventory

        return {n.name: n.available for n in read_inventory(self.config)}

    def log_paths(self, workdir: Path) -> tuple[Path, Path]:
        return workdir / batch.STDOUT_NAME, workdir / batch.STDERR_NAME
