"""The controller's job lifecycle on the real Slurm cluster: same behaviour as the local executor."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.controller.conftest import Harness
from tests.world import World, build_world

from aicc.api.app import create_app
from aicc.config import Settings
from aicc.controller.loop import Controller
from aicc.executors.slurm import SlurmExecutor
from aicc.store.db import Database
from aicc.store.models import JobRow, UsageRow

pytestmark = pytest.mark.slurm

SLURM_INVENTORY = """
[site]
name = "slurm-test"
executor = "slurm"

[[flavors]]
name = "h100"
vendor = "nvidia"
su_rate = 2.0

[[flavors]]
name = "a100"
vendor = "nvidia"
su_rate = 1.0

[[flavors]]
name = "cpu"
vendor = "cpu"
su_rate = 0.02

[[nodes]]
name = "node1"
flavor = "h100"
accelerators = 4
cpus = 8
memory_gb = 15

[[nodes]]
name = "node2"
flavor = "a100"
accelerators = 4
cpus = 8
memory_gb = 15

[[nodes]]
name = "node3"
flavor = "cpu"
accelerators = 0
cpus = 8
memory_gb = 15
"""


@pytest.fixture
def slurm_harness(shared_cluster, db: Database, tmp_path) -> Iterator[Harness]:  # type: ignore[no-untyped-def]
    world = build_world(db, SLURM_INVENTORY)
    settings = Settings(home=tmp_path / "home", database_url=db.url, controller=False, preempt_grace_s=1,
                        preempt_after_s=0, job_prefix=f"t{uuid.uuid4().hex[:8]}", slurm_dir=shared_cluster.directory)
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as client:
        yield Harness(client, world, settings, db, Controller(settings, db, SlurmExecutor(shared_cluster.config)))


def test_job_runs_on_slurm_and_is_charged_with_slurms_times(slurm_harness: Harness) -> None:
    h = slurm_harness
    job_id = h.submit(h.world.a.member_token, accelerators=2, flavors=["h100"], time_limit_s=120,
                      command=["sh", "-c", "echo on $SLURM_JOB_ID gpus=$SLURM_GPUS_ON_NODE; sleep 1"])
    job = h.until_state(job_id, "succeeded", timeout=60)
    assert job["placement"][0][0] == "node1" and job["exit_code"] == 0
    logs = h.client.get(f"/api/v1/jobs/{job_id}/logs", headers=World.auth(h.world.a.member_token)).json()
    assert "gpus=2" in logs["data"]
    with h.db.read() as s:
        rows = list(s.execute(select(UsageRow).where(UsageRow.job_id == job_id)).scalars())
    assert rows and rows[0].started_at.isoformat()[:19] == job["started_at"][:19]
    assert rows[-1].ended_at.isoformat()[:19] == job["ended_at"][:19]


def test_failure_cancel_and_dependency_on_slurm(slurm_harness: Harness) -> None:
    h = slurm_harness
    token = h.world.a.member_token
    bad = h.submit(token, flavors=["cpu"], command=["sh", "-c", "exit 3"])
    after = h.submit(token, flavors=["cpu"], depends_on=[bad])
    job = h.until_state(bad, "failed", timeout=60)
    assert job["exit_code"] == 3
    assert h.until_state(after, "cancelled")["reason"] == f"dependency never satisfied: job {bad} failed"
    long = h.submit(token, flavors=["cpu"], command=["sleep", "120"])
    h.until_state(long, "running", timeout=60)
    h.client.post(f"/api/v1/jobs/{long}/cancel", headers=World.auth(token))
    assert h.until_state(long, "cancelled", timeout=60)["state"] == "cancelled"


def test_controller_restart_re_adopts_slurm_jobs_without_resubmitting(slurm_harness: Harness) -> None:
    h = slurm_harness
    job_id = h.submit(h.world.a.member_token, flavors=["cpu"], command=["sleep", "4"])
    job = h.until_state(job_id, "running", timeout=60)
    h.controller = Controller(h.settings, h.db, SlurmExecutor(h.controller.executor.config))  # type: ignore[attr-defined]
    h.controller.cycle()
    again = h.job(job_id)
    assert again["state"] == "running" and again["started_at"] == job["started_at"]
    assert h.until_state(job_id, "succeeded", timeout=60)["attempt"] == 0
    executor = h.controller.executor
    assert isinstance(executor, SlurmExecutor)
    records = [r for r in executor.queue() if r.name.startswith(h.settings.job_prefix)]
    assert [r.name for r in records] == [f"{h.settings.job_prefix}-{job_id}-0"]  # submitted once


def test_wait_reason_arrays_and_preemption_on_slurm(slurm_harness: Harness) -> None:
    h = slurm_harness
    admin = World.auth(h.world.admin_token)
    # project a may only borrow h100s; project b is entitled to all four
    for alloc, quotas in [(h.world.a.allocation_id, {"h100": {"nominal": 0, "borrowing_limit": 4}, "cpu":
                                                     {"nominal": 8}}),
                          (h.world.b.allocation_id, {"h100": {"nominal": 4}})]:
        current = h.client.get(f"/api/v1/allocations/{alloc}", headers=admin).json()
        r = h.client.patch(f"/api/v1/allocations/{alloc}", headers=admin,
                           json={"version": current["version"], "quotas": quotas})
        assert r.status_code == 200, r.text
    token = h.world.a.member_token
    borrower = h.submit(token, accelerators=4, flavors=["h100"], command=["sleep", "120"])
    assert h.until_state(borrower, "running", timeout=60)["borrowed"] is True
    waiting = h.submit(token, accelerators=1, flavors=["h100"])
    h.controller.cycle()
    assert h.job(waiting)["reason"] == "waiting: project quota of 0 h100 and borrowing limit of 4 in use"
    r = h.client.post("/api/v1/jobs", headers=World.auth(token), json={
        "project": "proj-a", "command": ["sh", "-c", "echo task $AICC_ARRAY_TASK_ID"], "flavors": ["cpu"],
        "array": "0-3%2"})
    tasks = r.json()["ids"]
    entitled = h.submit(h.world.b.member_token, project="proj-b", accelerators=4, flavors=["h100"],
                        command=["sh", "-c", "echo mine"])
    assert h.until_state(entitled, "succeeded", timeout=90)["borrowed"] is False
    victim = h.job(borrower)
    assert victim["attempt"] == 1  # preempted on Slurm (scancel), back in the queue
    for t in tasks:
        h.until_state(t, "succeeded", timeout=90)
    out = h.client.get(f"/api/v1/jobs/{tasks[2]}/logs", headers=World.auth(token)).json()["data"]
    assert "task 2" in out
    h.client.post(f"/api/v1/jobs/{borrower}/cancel", headers=World.auth(token))
    h.client.post(f"/api/v1/jobs/{waiting}/cancel", headers=World.auth(token))
    h.until_state(borrower, "cancelled", timeout=60)


def test_controller_follows_the_site_onto_slurm_once_local_runs_end(shared_cluster, db: Database,  # type: ignore[no-untyped-def]
                                                                    tmp_path) -> None:
    """A center that starts on the local engine and loads an inventory naming Slurm: the server's controller
    (no engine given) moves there, but never while runs it started locally are live, and never starts a job
    on the engine the center has left."""
    world = build_world(db)  # executor = "local"
    settings = Settings(home=tmp_path / "home", database_url=db.url, controller=False, preempt_grace_s=1,
                        preempt_after_s=0, job_prefix=f"t{uuid.uuid4().hex[:8]}", slurm_dir=shared_cluster.directory)
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as client:
        h = Harness(client, world, settings, db, Controller(settings, db))
        assert h.controller.executor.name == "local"
        local = h.submit(world.a.member_token, flavors=["cpu"],  # a job sees its own directory only: $HOME
                         command=["sh", "-c", 'while [ ! -e "$HOME/release" ]; do sleep 0.1; done'])
        release = settings.jobs_dir / str(local) / "release"
        h.until_state(local, "running")
        r = client.post("/api/v1/inventory", headers=World.auth(world.admin_token),
                        json={"toml": SLURM_INVENTORY, "source": "slurm.toml"})
        assert r.status_code == 200, r.text
        later = h.submit(world.a.member_token, flavors=["cpu"], command=["sh", "-c", "echo on $SLURM_JOB_ID"])
        for _ in range(5):
            h.controller.cycle()
        assert h.job(later)["state"] == "admitted" and external_id(db, later) is None
        assert h.controller.executor.name == "local"
        release.touch()
        assert h.until_state(local, "succeeded")["exit_code"] == 0
        job = h.until_state(later, "succeeded", timeout=60)
        assert isinstance(h.controller.executor, SlurmExecutor)
        record = h.controller.executor.find_by_name(f"{settings.job_prefix}-{later}-{job['attempt']}")
        assert job["exit_code"] == 0 and record is not None, (job, external_id(db, later))
        assert str(record.job_id) == external_id(db, later)
        logs = client.get(f"/api/v1/jobs/{later}/logs", headers=World.auth(world.a.member_token)).json()
        assert f"on {record.job_id}" in logs["data"]


def external_id(db: Database, job_id: int) -> str | None:
    with db.read() as s:
        job = s.get(JobRow, job_id)
        assert job is not None
        return job.external_id


def test_controller_restart_re_adopts_jobs_started_as_one_array(slurm_harness: Harness) -> None:
    """Like-shaped jobs admitted together reach Slurm as one array; a restarted controller re-adopts every task
    (same engine ids, same start times) and submits nothing again."""
    h = slurm_harness
    ids = [h.submit(h.world.a.member_token, flavors=["cpu"], command=["sh", "-c", "echo $AICC_JOB_ID; sleep 4"])
           for _ in range(3)]
    h.controller.cycle()
    for job_id in ids:
        h.until_state(job_id, "running", timeout=60)
    engine_ids = [external_id(h.db, j) for j in ids]
    assert len({e.split("_")[0] for e in engine_ids if e}) == 1  # one array
    before = [h.job(j)["started_at"] for j in ids]
    h.controller = Controller(h.settings, h.db, SlurmExecutor(h.controller.executor.config))  # type: ignore[attr-defined]
    h.controller.cycle()
    assert [external_id(h.db, j) for j in ids] == engine_ids
    assert [h.job(j)["started_at"] for j in ids] == before
    for job_id in ids:
        job = h.until_state(job_id, "succeeded", timeout=60)
        assert job["attempt"] == 0
        logs = h.client.get(f"/api/v1/jobs/{job_id}/logs", headers=World.auth(h.world.a.member_token)).json()
        assert logs["data"] == f"{job_id}\n"
    executor = h.controller.executor
    assert isinstance(executor, SlurmExecutor)
    names = {r.name for r in executor.queue() if r.name.startswith(h.settings.job_prefix)}
    assert len(names) == 1 and names.pop().startswith(f"{h.settings.job_prefix}-{ids[0]}-0-x3-")
