"""The one small protocol every execution engine implements.

AICC decides *who* runs *what* and *where* (the admission policy in
``aicc.core.scheduling``); an executor only turns an admitted, placed job into
running processes and reports back what happened to them. The controller is the
only caller. Implementations: ``local`` (process groups on this machine, the
embedded default) and ``slurm`` (sbatch/squeue/scancel on a real cluster). A
Kubernetes executor would be a third.

Executors must be *re-adoptable*: after the controller restarts it calls
``reconcile`` with every run it believes is live, and the executor answers from
the engine's own records (files written by the job shepherd, Slurm's queue and
completion log), never from memory of the previous process.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

LOG_FILES = {"stdout": "stdout.log", "stderr": "stderr.log"}
"""The names every engine gives a run's output streams in the job's directory. The API (``aicc logs``), the data
zone (held logs), sessions and services read the files by these names, from here only."""


def log_file(stream: str) -> str:
    """The file name of ``stream`` (``stdout`` or ``stderr``); KeyError for anything else."""
    return LOG_FILES[stream]


class RunPhase(enum.Enum):
    """What the engine says about one run (one attempt of one job)."""

    STARTING = "starting"  # accepted by the engine, not yet running (Slurm PENDING/CONFIGURING)
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # exit code 0
    FAILED = "failed"  # non-zero exit code or killed by a signal we did not send
    TIMED_OUT = "timed_out"  # killed by the engine at its time limit
    CANCELLED = "cancelled"  # killed because AICC asked (cancel or preemption)
    LOST = "lost"  # the engine no longer knows the run (node failure, shepherd vanished)

    @property
    def finished(self) -> bool:
        return self not in (RunPhase.STARTING, RunPhase.RUNNING)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where AICC put one gang member: a node and the device indexes on it."""

    node: str
    devices: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class SandboxSpec:
    """Isolation for jobs on sensitive data (secure data zone).

    ``datasets`` maps a name inside the sandbox (``/data/<name>``) to a host
    directory that is bound read-only; ``output_dir`` is the only writable path.
    """

    datasets: Mapping[str, Path]
    output_dir: Path
    network: bool = False
    readonly: tuple[Path, ...] = ()
    """Further host paths bound read-only at the same place (the job's script)."""


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """The software image a run uses: the reference as named, the digest it resolved to (recorded on the job),
    and the node's unpacked, read-only root filesystem of that digest (``aicc.images``)."""

    ref: str
    digest: str
    rootfs: Path
    env: Mapping[str, str] = field(default_factory=dict)
    """The image's own environment (its config's ``Env``); the job's variables go on top."""


class EngineUnavailable(RuntimeError):
    """The engine could not be reached or did not answer in time: nothing is known to have changed, so the
    controller keeps its state and asks again next cycle (a start may have gone through: starts are
    idempotent by name)."""


@dataclass(frozen=True, slots=True)
class Launch:
    """Everything an executor needs to start one run. Built by the controller."""

    job_id: int
    attempt: int
    name: str  # engine-visible name; carries the AICC id so a restarted controller can find it
    argv: Sequence[str]  # the command; a script is run as ["/bin/sh", path]
    workdir: Path  # var/jobs/<id>/; stdout/stderr files go here
    env: Mapping[str, str]
    flavor: str
    device_env: str | None  # e.g. CUDA_VISIBLE_DEVICES; None for CPU flavors
    placements: Sequence[Placement]
    cpus: int
    memory_mb: int
    time_limit_s: int
    partition: str | None = None  # Slurm partition chosen for the flavor
    gres_type: str | None = None  # Slurm GRES type (e.g. "h100")
    sandbox: SandboxSpec | None = None
    image: ImageSpec | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    unix_uid: int | None = None
    """The project's Unix uid (= gid) the run executes as (``projects.unix_uid``); None: the range's reserved
    uid for runs without a project. Never 0, never the server's own."""
    readonly: Sequence[Path] = ()
    """Host paths shown read-only at the same place (open datasets the project may read)."""
    network: bool = True
    """Keep outbound network (ordinary jobs; a center may switch it off per project). Sensitive runs never."""
    tasks_per_node: int = 1
    """Processes per placed node (``aicc.executors.tasks``): a gang over several nodes, or more than one task
    per node, runs as ranks that know each other (MASTER_ADDR, WORLD_SIZE, …) instead of once."""
    mpi: bool = False
    """Start the ranks under the engine's MPI launcher (``srun --mpi=pmix`` on Slurm, ``mpirun`` locally)."""
    device_ids: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Per placed node whose inventory names its devices: the selector of each, by index (``MIG-<uuid>`` for a
    slice); see :func:`aicc.executors.discovery.selection`. A node not named here is handed indexes."""
    workspace: Path | None = None
    """The project's workspace directory (``aicc.workspaces``), shown read-write at ``/workspace``. On Slurm
    it must be a path every node sees (a shared file system). Never given to a sensitive-data run."""

    @property
    def accelerators(self) -> int:
        return sum(len(p.devices) for p in self.placements)


@dataclass(frozen=True, slots=True)
class RunStatus:
    """The engine's view of one run. Times are Unix seconds (engine clock)."""

    job_id: int
    attempt: int
    external_id: str
    phase: RunPhase
    started_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    reason: str | None = None  # readable: "node node2 failed", "time limit 2h reached"


class Executor(Protocol):
    """Implemented by ``executors.local.LocalExecutor`` and ``executors.slurm.SlurmExecutor``.

    Optional abilities are small protocols of their own (:class:`StartsMany`, :class:`KnowsNodes`,
    :class:`TellsExits`): the controller uses one when the engine has it."""

    name: str

    def start(self, launch: Launch) -> str:
        """Start the run and return the engine's id for it.

        Idempotent: if a run with ``launch.name`` already exists in the engine
        (the controller crashed after starting it), return that run's id.
        """
        ...

    def reconcile(self, runs: Sequence[tuple[int, int, str]]) -> list[RunStatus]:
        """Report the current status of each ``(job_id, attempt, external_id)``."""
        ...

    def cancel(self, external_id: str, grace_s: float) -> None:
        """SIGTERM, wait up to ``grace_s``, then SIGKILL the whole run. Returns at once."""
        ...

    def log_paths(self, workdir: Path) -> tuple[Path, Path]:
        """Paths of the run's stdout and stderr files."""
        ...


@runtime_checkable
class StartsMany(Protocol):
    """An engine that starts many runs more cheaply together than one by one (Slurm: like-shaped runs as one
    array). One result per launch, in order: the engine's id, or the exception that start raised."""

    def start_many(self, launches: Sequence[Launch], map_: Callable[..., Iterable[Any]]) -> list[str | Exception]:
        """``map_`` runs a function over items, possibly in parallel (the controller's start threads)."""
        ...


@runtime_checkable
class KnowsNodes(Protocol):
    """An engine that knows which of its nodes can take work now (Slurm: drained or down nodes cannot)."""

    def node_availability(self) -> dict[str, bool]: ...


@runtime_checkable
class TellsExits(Protocol):
    """An engine that says the moment a run ends: a datagram on the Unix socket at ``notify_path``."""

    notify_path: Path | None
