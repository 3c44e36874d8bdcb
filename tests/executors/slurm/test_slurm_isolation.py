"""On Slurm the batch step runs the job through the same runner: the project's uid, bubblewrap, cgroups."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.controller.conftest import Harness
from tests.executors.slurm.test_slurm_controller import SLURM_INVENTORY
from tests.images.conftest import DOWN, REGISTRY, registry  # noqa: F401 - the registry fixture
from tests.world import build_world

from aicc.api.app import create_app
from aicc.config import Settings
from aicc.controller.loop import Controller
from aicc.executors.base import RunPhase
from aicc.executors.slurm import SlurmConfig, SlurmExecutor
from aicc.executors.slurm.batch import batch_script_path, run_spec_path
from aicc.store.db import Database
from aicc.store.models import JobRow, ProjectRow

UID = 200_041


def test_a_slurm_job_runs_as_its_project_sees_only_its_directory_and_is_memory_limited(
    slurm_executor: SlurmExecutor, make_launch, wait_run, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    secret = tmp_path / "server-secret"
    secret.write_text("not for jobs")
    code = ("import json, os\n"
            f"print(json.dumps({{'uid': os.getuid(), 'secret': os.path.exists({str(secret)!r}), "
            "'procs': len([p for p in os.listdir('/proc') if p.isdigit()]), 'job': os.environ.get('SLURM_JOB_ID')}))\n")
    launch = dataclasses.replace(make_launch(["python3", "-c", code], job_id=61), unix_uid=UID)
    ext = slurm_executor.start(launch)
    st = wait_run(slurm_executor, (61, 1, ext), lambda s: s.phase.finished, 60)
    out = (launch.workdir / "stdout.log").read_text()
    assert st.phase is RunPhase.SUCCEEDED, (st, out, (launch.workdir / "stderr.log").read_text())
    got = json.loads(out.strip().splitlines()[-1])
    assert got == {"uid": UID, "secret": False, "procs": got["procs"], "job": ext} and got["procs"] <= 3
    assert secret.read_text() and "aicc.runner" in batch_script_path(launch).read_text()  # host control
    spec = json.loads(run_spec_path(launch).read_text())
    assert spec["uid"] == UID and os.stat(run_spec_path(launch)).st_uid == 0

    hog = dataclasses.replace(make_launch(["python3", "-c", "b = bytearray(600 << 20)"], job_id=62),
                              unix_uid=UID, memory_mb=128)
    ext = slurm_executor.start(hog)
    st = wait_run(slurm_executor, (62, 1, ext), lambda s: s.phase.finished, 60)
    assert (st.phase, st.reason) == (RunPhase.FAILED, "out of memory (limit 128 MiB)")  # Slurm's OUT_OF_MEMORY
    assert "out of memory (limit 128 MiB)" in (hog.workdir / "stderr.log").read_text()  # and the runner's word


# -- through the controller: images, Slurm's records, AICC_HOME, failure paths ---------------------------------


@pytest.fixture
def slurm_center(shared_cluster, db: Database, tmp_path: Path) -> Iterator[Harness]:  # type: ignore[no-untyped-def]
    """A center on the real Slurm cluster that allows the test registry (when there is one) and a dead one."""
    allowed = ",".join(r for r in (REGISTRY, DOWN) if r)
    world = build_world(db, SLURM_INVENTORY)
    settings = Settings(home=tmp_path / "home", database_url=db.url, controller=False, registries=allowed,
                        insecure_registries=allowed, job_prefix=f"t{uuid.uuid4().hex[:8]}",
                        slurm_dir=shared_cluster.directory)
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as client:
        yield Harness(client, world, settings, db, Controller(settings, db, SlurmExecutor(shared_cluster.config)))


def _project_uid(h: Harness, project_id: int) -> int:
    with h.db.read() as s:
        uid = s.get(ProjectRow, project_id).unix_uid  # type: ignore[union-attr]
    assert uid is not None and uid >= h.settings.uid_base
    return int(uid)


def _external_id(h: Harness, job_id: int) -> str | None:
    with h.db.read() as s:
        return s.get(JobRow, job_id).external_id  # type: ignore[union-attr]


def _slurm_user(h: Harness, external_id: str | None) -> tuple[str, str]:
    """(squeue's uid, the completion log's UserId=) for a Slurm job: Slurm's own records of who ran it."""
    env = {**os.environ, "SLURM_CONF": str(SlurmConfig.from_cluster_dir(h.settings.slurm_dir).slurm_conf)}
    assert external_id is not None
    squeue = subprocess.run(["squeue", "-h", "-t", "all", "-j", external_id, "-o", "%U"], env=env, capture_output=True,
                            text=True, timeout=30, check=True).stdout.strip()
    log = Path(h.settings.slurm_dir, "jobcomp.log").read_text()  # type: ignore[arg-type]
    line = next(x for x in log.splitlines() if x.startswith(f"JobId={external_id} "))
    return squeue, line.split("UserId=", 1)[1].split()[0]


@pytest.mark.registry
def test_an_image_job_on_slurm_runs_the_images_python_as_its_project_which_slurm_records(
        slurm_center: Harness, registry: str) -> None:  # noqa: F811 - the fixture imported above
    h = slurm_center
    home = str(h.settings.home)
    code = ("import sys, os; print('py', sys.version_info[:2], 'uid', os.getuid(), 'home', "
            f"os.path.exists({home!r}), os.path.exists({home + '/aicc.db'!r}))")
    (h.settings.home / "secrets").mkdir(parents=True, exist_ok=True)
    (h.settings.home / "secrets" / "pseudonym.key").write_text("TOPSECRET")
    image_job = h.submit(h.world.a.member_token, image=f"{registry}/aicc-test/python:3.13", flavors=["cpu"],
                         command=["python3", "-c", code])
    host_job = h.submit(h.world.a.member_token, flavors=["cpu"], command=[
        "sh", "-c", f"id -u; cat {home}/aicc.db {home}/secrets/* 2>&1 | head -c 300; ls {home}/jobs 2>&1; true"])
    image = h.until_state(image_job, "succeeded", "failed", timeout=180)
    host = h.until_state(host_job, "succeeded", "failed", timeout=60)
    uid = _project_uid(h, h.world.a.project_id)
    out = (h.settings.jobs_dir / str(image_job) / "stdout.log").read_text()
    assert image["state"] == "succeeded", (image["reason"], out)
    assert f"py (3, 13) uid {uid} home False False" in out and sys.version_info[:2] != (3, 13)
    assert image["image_digest"], image  # recorded at admission, as on the local engine
    assert _slurm_user(h, _external_id(h, image_job)) == (str(uid), f"aicc-{uid}({uid})")  # not root
    seen = (h.settings.jobs_dir / str(host_job) / "stdout.log").read_text().splitlines()
    assert host["state"] == "succeeded" and seen[0] == str(uid), seen
    assert "TOPSECRET" not in str(seen) and "secrets/*': No such file or directory" in seen[2], seen
    assert seen[3:] == [str(host_job)], seen  # of the jobs directory, only its own
    assert (h.settings.home / "secrets" / "pseudonym.key").read_text() == "TOPSECRET"  # host-side control


def test_on_slurm_a_dead_registry_and_an_exhausted_uid_range_fail_the_job_with_the_reason_before_sbatch(
        slurm_center: Harness) -> None:
    h = dataclasses.replace(slurm_center, settings=dataclasses.replace(slurm_center.settings, uid_count=2))
    h.controller = Controller(h.settings, h.db, slurm_center.controller.executor)
    dead = h.submit(h.world.a.member_token, image=f"{DOWN}/aicc-test/python:3.13", flavors=["cpu"],
                    command=["python3", "-V"])
    job = h.until_state(dead, "failed", timeout=60)
    assert "connection refused" in job["reason"] and job["started_at"] is None, job["reason"]
    assert _external_id(h, dead) is None  # never reached Slurm
    first = h.submit(h.world.a.member_token, flavors=["cpu"], command=["true"])
    second = h.submit(h.world.b.member_token, project="proj-b", flavors=["cpu"], command=["true"])
    assert h.until_state(first, "succeeded", timeout=60)["state"] == "succeeded"
    job = h.until_state(second, "failed", timeout=30)  # the range had one uid to give, and proj-a has it
    assert "uid range exhausted" in job["reason"] and _external_id(h, second) is None, job
