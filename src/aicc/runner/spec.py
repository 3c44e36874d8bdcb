"""The run spec: everything the runner needs to build one run's environment, as plain JSON.

The controller's executor writes it (the local shepherd reads it from the run directory, a Slurm batch step
from a file beside its script); ``python -m aicc.runner spec.json`` runs it. It names host paths only as
the executor resolved them: the runner never trusts a path from a job.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aicc.runner.profiles import Profile


@dataclass(frozen=True, slots=True)
class Bind:
    """A host path shown inside the run at ``dest`` (the same path when ``dest`` is empty)."""

    src: str
    dest: str = ""
    writable: bool = False

    @property
    def target(self) -> str:
        return self.dest or self.src


@dataclass(frozen=True, slots=True)
class Limits:
    """Kernel-enforced limits (cgroups). ``cpus`` is a CFS quota in cores; ``memory_mb`` includes page cache."""

    cpus: float = 1.0
    memory_mb: int = 1024
    pids: int = 4096


@dataclass(frozen=True, slots=True)
class RunSpec:
    argv: list[str]
    env: dict[str, str]
    cwd: str
    """Working directory inside the run."""
    uid: int
    gid: int
    """The project's Unix identity: never 0, never the server's own."""
    name: str
    """Names the run's cgroups (``job-<id>-<attempt>``): plain characters only."""
    profile: Profile = Profile.STANDARD
    binds: list[Bind] = field(default_factory=list)
    """Job directory (writable), datasets and scripts (read-only), in order; later ones lie on top."""
    devices: list[str] = field(default_factory=list)
    """Host device nodes the run was placed on (``/dev/nvidia0``); no other device node is there."""
    engine_devices: str = ""
    """A step's devices are the engine's choice, known only on the node: ``/dev/nvidia{}`` formatted with each
    index of ``SLURM_JOB_GPUS`` replaces ``devices`` there (``launch.engine_devices``). Slurm's device cgroup
    allows exactly those, which need not be the ones AICC counted when it placed the job."""
    rootfs: str | None = None
    """An unpacked image root filesystem, shown read-only as ``/`` instead of the host's system dirs."""
    network: bool = True
    """Keep the host's network (ordinary jobs, unless the project switched it off); never for SENSITIVE."""
    python_dirs: list[str] = field(default_factory=list)
    """The host's Python environment (venv, AICC's own package), read-only, when no image is named."""
    limits: Limits = field(default_factory=Limits)
    step: bool = False
    """Run as a batch step whose engine signals every process of it at once (Slurm's scancel, time limit):
    the job is the PID namespace's init and outlives bubblewrap's monitor, so its SIGTERM handler runs
    (the runner reaps it as a subreaper). The local shepherd signals the job's processes only."""
    extra: list[str] = field(default_factory=list)
    """Further bubblewrap arguments the server computed for this node (an image's view of the GPU driver:
    its libraries, tools and the placed GPUs' ``/proc/driver`` entries), placed after the binds."""
    engine_identity: bool = False
    """The engine already runs this step as ``uid``/``gid`` and holds it in cgroups with ``limits`` (a Slurm
    job submitted with ``sbatch --uid/--gid``, confined by Slurm's ``task/cgroup``): the runner, not root
    there, checks both instead of making them, and refuses to start the job when either is missing."""
    passthrough: list[str] = field(default_factory=list)
    """Variables copied from the runner's own environment when it runs (Slurm sets ``SLURM_JOB_ID``,
    ``CUDA_VISIBLE_DEVICES`` on the node only); a trailing ``*`` names a prefix (``SLURM_*``)."""
    relay_port: int | None = None
    """A service replica on an engine whose step is not root: the port its server listens on inside its own
    network namespace, bridged by a relay process the runner forks (``aicc.runner.relay.spawn``)."""
    relay_socket: str | None = None
    """Where that relay listens (``relay.engine_socket``: the project's directory outside every run's view)."""
    relay_bind: str | None = None
    """TCP mode: the node's address the relay listens on ("" every address; None: Unix mode, ``relay_socket``).
    It publishes ``host:port`` beside ``relay_socket`` and bridges only connections that present the secret."""
    relay_secret_file: str | None = None
    """TCP mode: the file with the replica's secret (beside ``relay_socket``). A path, not the secret: this
    spec lies in the job's own directory, which its sandbox shows."""
    relay_target: str | None = None
    """A session's Unix socket on the node (in its run directory), which the relay dials instead of a port
    inside the run: how a session on another host is reached (TCP mode)."""

    def __post_init__(self) -> None:
        if self.uid <= 0 or self.gid <= 0:
            raise ValueError("a run never runs as root: give it its project's uid and gid")
        if not self.name or not all(c.isalnum() or c in "-_." for c in self.name) or self.name in (".", ".."):
            raise ValueError(f"run name {self.name!r} is not a plain name")
        if not self.argv:
            raise ValueError("a run needs a command")

    @property
    def keeps_network(self) -> bool:
        return self.network and self.profile.network_allowed

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["profile"] = self.profile.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunSpec:
        d = dict(data)
        d["profile"] = Profile(d.get("profile", "standard"))
        d["binds"] = [Bind(**b) for b in d.get("binds", [])]
        d["limits"] = Limits(**d.get("limits", {}))
        return cls(**d)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json()))

    @classmethod
    def read(cls, path: Path) -> RunSpec:
        return cls.from_json(json.loads(path.read_text()))
