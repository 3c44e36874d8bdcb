"""How AICC's flavors map onto one Slurm cluster, and how to reach it.

AICC admits against flavors (``h100``, ``cpu``); Slurm knows GRES types and
partitions. The mapping is configuration, not discovery: a site decides which
partition serves which flavor. ``scripts/slurm-up`` writes ``cluster.json`` in
this shape for the test cluster, so tests and a demo read the same file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

RELAY_MODES = ("unix", "tcp")
DEFAULT_CLUSTER_DIR = Path("/tmp/aicc-slurm")  # noqa: S108  (scripts/slurm-up's default, root-only)


@dataclass(frozen=True, slots=True)
class SlurmFlavor:
    """One AICC flavor on Slurm: GRES type of its GPUs (None for CPU nodes) and its partition."""

    gres_type: str | None
    partition: str


@dataclass(frozen=True, slots=True)
class SlurmConfig:
    """Everything the Slurm executor and inventory need.

    ``slurm_conf`` is passed to every command as ``SLURM_CONF`` (None: the
    commands' default). ``jobcomp_log`` is the ``JobCompLoc`` of
    ``jobcomp/filetxt``: the only record of finished jobs without slurmdbd.
    ``kill_wait_s`` is the cluster's ``KillWait``: the grace between SIGTERM and
    SIGKILL on cancel. ``command_timeout_s`` bounds every Slurm command so a
    hung controller never blocks AICC's loop for long. ``nice``: the CPU
    priority the tools run at (``nice -n``; 0 leaves it): the controller starts
    them in bursts, and where it shares its cores with the API a user's
    submission should not wait behind them. ``relay``: how the server reaches
    a service replica's relay on a node (``aicc.runner.relay``): ``unix`` (a
    socket, only where the node is the server's host) or ``tcp`` (a port on
    ``relay_bind``, "" every address, with a per-replica secret).
    """

    flavors: Mapping[str, SlurmFlavor]
    jobcomp_log: Path | None = None
    slurm_conf: Path | None = None
    kill_wait_s: float = 30.0
    command_timeout_s: float = 10.0
    bin_dir: Path | None = None  # where sbatch & co. live; None: PATH
    extra_env: Mapping[str, str] = field(default_factory=dict)
    nice: int = 10
    relay: str = "unix"
    relay_bind: str = ""

    def __post_init__(self) -> None:
        if self.relay not in RELAY_MODES:
            raise ValueError(f"AICC_SLURM_RELAY is {self.relay!r}: it is one of {', '.join(RELAY_MODES)}")

    def flavor_for_gres(self, gres_type: str | None) -> str | None:
        """The flavor whose GRES type is ``gres_type`` (None: a CPU-only node)."""
        for name, flavor in self.flavors.items():
            if flavor.gres_type == gres_type:
                return name
        return None

    def flavor_for_partitions(self, partitions: list[str]) -> str | None:
        for name, flavor in self.flavors.items():
            if flavor.partition in partitions:
                return name
        return None

    @classmethod
    def from_cluster_dir(cls, directory: Path | None = None, env: Mapping[str, str] | None = None) -> SlurmConfig:
        """Read ``cluster.json`` written by ``scripts/slurm-up`` (``$AICC_SLURM_DIR``); the relay's mode and
        address from ``AICC_SLURM_RELAY`` and ``AICC_SLURM_RELAY_BIND`` (the site's, not the cluster file's)."""
        env = os.environ if env is None else env
        if directory is None:
            directory = Path(env.get("AICC_SLURM_DIR", str(DEFAULT_CLUSTER_DIR)))
        data = json.loads((directory / "cluster.json").read_text())
        return cls(
            flavors={
                name: SlurmFlavor(gres_type=f.get("gres_type"), partition=f["partition"])
                for name, f in data["flavors"].items()
            },
            jobcomp_log=Path(data["jobcomp_log"]),
            slurm_conf=Path(data["slurm_conf"]),
            kill_wait_s=float(data.get("kill_wait_s", 30)),
            nice=int(data.get("nice", 10)),
            relay=env.get("AICC_SLURM_RELAY", "").strip().lower() or "unix",
            relay_bind=env.get("AICC_SLURM_RELAY_BIND", "").strip(),
        )
