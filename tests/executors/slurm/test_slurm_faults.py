"""Faults injected into the real cluster: slurmctld restart, slurmd crash, controller restart.

Each test holds the cluster exclusively and heals it afterwards (``scripts/slurm-up``
restarts what is missing and resumes nodes), so later tests get a whole cluster.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from aicc.executors.base import Placement, RunPhase, RunStatus
from aicc.executors.slurm import SlurmConfig, SlurmExecutor, SlurmUnavailable, read_inventory

pytestmark = pytest.mark.slurm


def _running(status: RunStatus) -> bool:
    return status.phase is RunPhase.RUNNING


def _stop(pid: int) -> None:
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def test_runs_survive_a_slurmctld_restart_and_a_controller_restart(
    exclusive_cluster, make_launch, wait_run
) -> None:
    executor = SlurmExecutor(exclusive_cluster.config)
    launch = make_launch(["/bin/sh", "-c", "sleep 300"], job_id=51)
    external_id = executor.start(launch)
    before = wait_run(executor, (51, 1, external_id), _running)

    _stop(exclusive_cluster.pid("slurmctld"))
    # While slurmctld is away: a clear, retryable error, never a run marked lost.
    with pytest.raises(SlurmUnavailable):
        executor.reconcile([(51, 1, external_id)])
    with pytest.raises(SlurmUnavailable):
        read_inventory(exclusive_cluster.config)
    with pytest.raises(SlurmUnavailable):
        executor.start(launch)
    exclusive_cluster.up()

    # A new executor object stands for a restarted AICC controller.
    adopted = SlurmExecutor(exclusive_cluster.config)
    [after] = adopted.reconcile([(51, 1, external_id)])
    assert after.phase is RunPhase.RUNNING
    assert after.started_at == before.started_at
    assert adopted.start(launch) == external_id
    assert [r.job_id for r in adopted.queue() if r.name == launch.name] == [int(external_id)]
    adopted.cancel(external_id, grace_s=0)


def test_killed_slurmd_makes_its_job_lost_naming_the_node(exclusive_cluster, make_launch, wait_run) -> None:
    executor = SlurmExecutor(exclusive_cluster.config)
    launch = make_launch(
        ["/bin/sh", "-c", "sleep 300"], flavor="a100", placements=[Placement("node2", (0,))], job_id=52
    )
    external_id = executor.start(launch)
    wait_run(executor, (52, 1, external_id), _running)

    os.kill(exclusive_cluster.pid("slurmd-node2"), signal.SIGKILL)
    # SlurmdTimeout=10 s in slurm-up's config; the 60 s bound only keeps the test finite.
    status = wait_run(executor, (52, 1, external_id), lambda s: s.phase.finished, timeout_s=60)

    assert status.phase is RunPhase.LOST
    assert status.reason == "node node2 failed"
    assert status.ended_at is not None
    node2 = {n.name: n for n in read_inventory(exclusive_cluster.config)}["node2"]
    assert not node2.available
    exclusive_cluster.up()  # restarts slurmd node2 and resumes the node
    assert {n.name: n for n in read_inventory(exclusive_cluster.config)}["node2"].available


def test_unreachable_controller_is_slurm_unavailable(slurm_cluster, tmp_path: Path) -> None:
    """A cluster whose slurmctld listens nowhere: every call fails fast with SlurmUnavailable."""
    conf = slurm_cluster.config.slurm_conf.read_text()
    port_line = next(line for line in conf.splitlines() if line.startswith("SlurmctldPort="))
    dead = tmp_path / "slurm.conf"
    dead.write_text(conf.replace(port_line, "SlurmctldPort=9"))
    config = SlurmConfig(flavors=slurm_cluster.config.flavors, slurm_conf=dead, command_timeout_s=20)

    with pytest.raises(SlurmUnavailable):
        SlurmExecutor(config).reconcile([(1, 1, "1")])
    with pytest.raises(SlurmUnavailable):
        read_inventory(config)


def test_a_job_admitted_while_slurmctld_is_away_waits_and_then_runs(exclusive_cluster, db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The controller cannot reach Slurm when it would start an admitted job: the job stays admitted (not
    failed) and starts, once, when slurmctld is back."""
    import uuid

    from fastapi.testclient import TestClient
    from tests.controller.conftest import Harness
    from tests.executors.slurm.test_slurm_controller import SLURM_INVENTORY, external_id
    from tests.world import build_world

    from aicc.api.app import create_app
    from aicc.config import Settings
    from aicc.controller.loop import Controller

    world = build_world(db, SLURM_INVENTORY)
    settings = Settings(home=tmp_path / "home", database_url=db.url, controller=False,
                        job_prefix=f"t{uuid.uuid4().hex[:8]}", slurm_dir=exclusive_cluster.directory)
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as client:
        h = Harness(client, world, settings, db, Controller(settings, db))
        assert isinstance(h.controller.executor, SlurmExecutor)
        h.controller.cycle()  # knows the nodes; a submit's light cycle admits on that knowledge
        _stop(exclusive_cluster.pid("slurmctld"))
        job = h.submit(world.a.member_token, flavors=["cpu"], command=["sh", "-c", "echo back"])
        for _ in range(2):
            h.controller.cycle(full=False)
        assert h.job(job)["state"] == "admitted" and external_id(db, job) is None
        exclusive_cluster.up()
        assert h.until_state(job, "succeeded", timeout=60)["attempt"] == 0
        records = [r for r in h.controller.executor.queue() if r.name.startswith(settings.job_prefix)]
        assert len(records) == 1
