"""A job writing to its workspace on a full disk (not a quota) fails with the kernel's clear error in its log;
jobs that do not write there still run (the controller's own state and the jobs' directories are elsewhere)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aicc.config import Settings
from aicc.store.db import Database
from tests.controller.conftest import Harness
from tests.workspaces.test_full_disk import fill_to_the_brim, small_disk  # noqa: F401 - the fixture


@pytest.fixture
def settings(tmp_path: Path, db: Database, small_disk: Path) -> Settings:  # noqa: F811
    """The controller's usual test settings, with the workspaces on the small disk (quota 10 GiB: not the limit)."""
    return Settings(home=tmp_path / "home", database_url=db.url, max_body_bytes=256 * 1024, controller=False,
                    workspace_root=small_disk / "root", workspace_default_gib=10)


def test_a_job_writing_to_a_full_disk_fails_with_enospc_in_its_log(harness: Harness, small_disk: Path) -> None:  # noqa: F811
    w = harness.world
    H = {"Authorization": f"Bearer {w.a.member_token}"}
    first = harness.submit(w.a.member_token, command=["sh", "-c", "echo ok > /workspace/small.txt"],
                           flavors=["cpu"], cpus=1, time_limit_s=60)
    assert harness.until_state(first, "succeeded", "failed")["state"] == "succeeded"  # the workspace exists
    fill_to_the_brim(small_disk)
    job_id = harness.submit(w.a.member_token, command=["sh", "-c", "dd if=/dev/zero of=/workspace/big bs=1M "
                                                       "count=64 conv=fsync"],
                            flavors=["cpu"], cpus=1, time_limit_s=60)
    job = harness.until_state(job_id, "succeeded", "failed")
    assert job["state"] == "failed"
    assert job["exit_code"] != 0
    logs = harness.client.get(f"/api/v1/jobs/{job_id}/logs", params={"stream": "stderr"}, headers=H).json()["data"]
    assert "No space left on device" in logs
    other = harness.submit(w.b.member_token, project="proj-b", command=["echo", "fine"], flavors=["cpu"], cpus=1,
                           time_limit_s=60)
    assert harness.until_state(other, "succeeded", "failed")["state"] == "succeeded"
