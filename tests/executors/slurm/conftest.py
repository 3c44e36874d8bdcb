"""Fixtures for tests against the real Slurm cluster of ``scripts/slurm-up``.

The cluster is shared by every xdist worker (and by whoever started it, e.g.
``.ci/run``): ``slurm_cluster`` runs the idempotent ``scripts/slurm-up`` once
per worker under a file lock. Tests that only submit jobs hold a *shared* lock
on the cluster while they run; tests that break the cluster on purpose (kill
slurmd, restart slurmctld, drain a node) take it *exclusively*, so no other
test sees their faults. Reusable by the controller's lifecycle tests later:
``slurm_executor`` and ``make_launch`` are all they need.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from aicc.executors.base import Launch, Placement, RunStatus
from aicc.executors.slurm import SlurmConfig, SlurmExecutor

REPO = Path(__file__).resolve().parents[3]
CLUSTER_DIR = Path(os.environ.get("AICC_SLURM_DIR", "/tmp/aicc-slurm"))
LOCK_FILE = Path(f"{CLUSTER_DIR}.lock")


@dataclass(frozen=True)
class SlurmCluster:
    directory: Path
    config: SlurmConfig

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "SLURM_CONF": str(self.config.slurm_conf),
            "AICC_SLURM_DIR": str(self.directory),
        }

    def up(self) -> None:
        """(Re)start whatever daemon is missing and wait until all nodes are usable."""
        subprocess.run(
            [str(REPO / "scripts" / "slurm-up")],
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=180,
        )

    def scontrol(self, *args: str) -> str:
        return subprocess.run(
            ["scontrol", *args], env=self.env, check=True, capture_output=True, text=True, timeout=30
        ).stdout

    def pid(self, daemon: str) -> int:
        return int((self.directory / "run" / f"{daemon}.pid").read_text())

    def node_state(self, node: str) -> str:
        return subprocess.run(
            ["sinfo", "-h", "-N", "-n", node, "-o", "%t"],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()


@contextlib.contextmanager
def _lock(mode: int) -> Iterator[None]:
    with LOCK_FILE.open("a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def slurm_cluster() -> SlurmCluster:
    with _lock(fcntl.LOCK_EX):
        env = {**os.environ, "AICC_SLURM_DIR": str(CLUSTER_DIR)}
        subprocess.run(
            [str(REPO / "scripts" / "slurm-up")], env=env, check=True, stdout=subprocess.DEVNULL, timeout=300
        )
        return SlurmCluster(CLUSTER_DIR, SlurmConfig.from_cluster_dir(CLUSTER_DIR))


@pytest.fixture
def shared_cluster(slurm_cluster: SlurmCluster) -> Iterator[SlurmCluster]:
    """The cluster, healthy, for a test that only submits jobs."""
    with _lock(fcntl.LOCK_SH):
        yield slurm_cluster


@pytest.fixture
def exclusive_cluster(slurm_cluster: SlurmCluster) -> Iterator[SlurmCluster]:
    """The cluster for a test that injects faults; healed (slurm-up) afterwards."""
    with _lock(fcntl.LOCK_EX):
        try:
            yield slurm_cluster
        finally:
            slurm_cluster.up()


@pytest.fixture
def slurm_executor(shared_cluster: SlurmCluster) -> SlurmExecutor:
    return SlurmExecutor(shared_cluster.config)


LaunchFactory = Callable[..., Launch]


@pytest.fixture
def make_launch(tmp_path: Path) -> Iterator[LaunchFactory]:
    """A Launch with a unique engine name (tests share one cluster and its completion log).

    Jobs still alive under these names when the test ends are cancelled, so a failed
    assertion never leaves a ``sleep 300`` holding a node for the next test.
    """
    names: list[str] = []

    def make(
        argv: Sequence[str],
        *,
        flavor: str = "cpu",
        placements: Sequence[Placement] = (Placement("node3"),),
        env: dict[str, str] | None = None,
        time_limit_s: int = 600,
        job_id: int = 1,
        attempt: int = 1,
    ) -> Launch:
        name = f"aicc-test-{uuid.uuid4().hex[:12]}-{job_id}.{attempt}"
        names.append(name)
        return Launch(
            job_id=job_id,
            attempt=attempt,
            name=name,
            argv=list(argv),
            workdir=tmp_path / name,
            env=env or {},
            flavor=flavor,
            device_env=None,
            placements=list(placements),
            cpus=1,
            memory_mb=100,
            time_limit_s=time_limit_s,
        )

    yield make
    env = {**os.environ, "SLURM_CONF": str(CLUSTER_DIR / "etc" / "slurm.conf")}
    for name in names:
        subprocess.run(["scancel", f"--name={name}"], env=env, capture_output=True, timeout=30, check=False)


def wait_for(
    executor: SlurmExecutor,
    run: tuple[int, int, str],
    until: Callable[[RunStatus], bool],
    timeout_s: float = 30,
) -> RunStatus:
    """Poll reconcile until ``until`` holds; fail showing the last status (a bound, not a timing test)."""
    deadline = time.monotonic() + timeout_s
    status = executor.reconcile([run])[0]
    while not until(status):
        if time.monotonic() > deadline:
            pytest.fail(f"run {run} did not reach the expected state within {timeout_s} s: {status}")
        time.sleep(0.3)
        status = executor.reconcile([run])[0]
    return status


@pytest.fixture
def wait_run() -> Callable[..., RunStatus]:
    """``wait_for`` as a fixture, so test modules need not import this conftest."""
    return wait_for
