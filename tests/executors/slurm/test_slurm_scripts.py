"""scripts/slurm-up is idempotent; scripts/slurm-down stops exactly the daemons it recorded."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[3]


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _pids(directory: Path) -> dict[str, int]:
    return {p.stem: int(p.read_text()) for p in sorted((directory / "run").glob("*.pid"))}


def _free_port_block(size: int) -> int:
    for _ in range(50):
        base = random.randrange(20000, 60000 - size)
        try:
            for port in range(base, base + size):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free block of ports")


def test_slurm_up_on_a_running_cluster_changes_nothing(shared_cluster) -> None:
    before = _pids(shared_cluster.directory)
    out = subprocess.run(
        [str(REPO / "scripts" / "slurm-up")], env=shared_cluster.env, check=True,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert _pids(shared_cluster.directory) == before
    assert set(before) == {"munged", "slurmctld", "slurmd-node1", "slurmd-node2", "slurmd-node3"}
    assert f"export SLURM_CONF={shared_cluster.config.slurm_conf}" in out.stdout.splitlines()
    assert "started" not in out.stderr


def test_slurm_down_stops_only_its_own_cluster(shared_cluster) -> None:
    other = Path(tempfile.mkdtemp(prefix="aicc-slurm-t"))  # short: munge's socket path is limited
    env = {**os.environ, "AICC_SLURM_DIR": str(other), "AICC_SLURM_PORT": str(_free_port_block(4))}
    env.pop("SLURM_CONF", None)
    try:
        subprocess.run(
            [str(REPO / "scripts" / "slurm-up")], env=env, check=True, capture_output=True, timeout=120
        )
        started = _pids(other)
        assert all(_alive(pid) for pid in started.values())
        subprocess.run([str(REPO / "scripts" / "slurm-down"), "--purge"], env=env, check=True, timeout=120)
        assert not any(_alive(pid) for pid in started.values())
        assert not other.exists()
        assert all(_alive(pid) for pid in _pids(shared_cluster.directory).values())
    finally:
        if other.exists():
            subprocess.run([str(REPO / "scripts" / "slurm-down")], env=env, check=False, timeout=120)
            shutil.rmtree(other, ignore_errors=True)
