"""The controller gives every ordinary job its project's workspace at /workspace; where the file system only
measures, a project over its quota starts nothing new, with the reason."""

from __future__ import annotations

import dataclasses

from aicc.services.workspaces import workspaces
from tests.controller.conftest import Harness


def test_a_job_started_by_the_controller_writes_its_projects_workspace(harness: Harness) -> None:
    w = harness.world
    job_id = harness.submit(w.a.member_token, command=["sh", "-c", "echo $AICC_WORKSPACE > /workspace/where.txt"],
                            flavors=["cpu"], cpus=1, time_limit_s=60)
    harness.until_state(job_id, "succeeded", "failed")
    files = workspaces(harness.settings).path_of(w.a.project_id) / "files"
    assert (files / "where.txt").read_text() == "/workspace\n"
    listing = harness.client.get(f"/api/v1/projects/{w.a.project_id}/workspace/list",
                                 headers={"Authorization": f"Bearer {w.a.member_token}"}).json()
    assert [e["path"] for e in listing["entries"]] == ["where.txt"]


def test_where_quotas_are_only_measured_a_project_over_its_quota_starts_no_new_job(harness: Harness) -> None:
    w = harness.world
    spaces = workspaces(harness.settings)
    assert not spaces.backend.enforced  # the test home is not a btrfs with quotas: measured
    first = harness.submit(w.a.member_token, command=["sh", "-c", "head -c 2000000 /dev/zero > /workspace/f"],
                           flavors=["cpu"], cpus=1, time_limit_s=60)
    harness.until_state(first, "succeeded")
    harness.settings = dataclasses.replace(harness.settings, workspace_default_gib=0)  # quota now 0 bytes
    harness.restart_controller()
    spaces.backend._cache.clear()  # type: ignore[attr-defined]
    second = harness.submit(w.a.member_token, flavors=["cpu"], cpus=1, time_limit_s=60)
    job = harness.until_state(second, "failed")
    assert "workspace" in job["reason"] and "over its quota" in job["reason"]
    other = harness.submit(w.b.member_token, project="proj-b", flavors=["cpu"], cpus=1, time_limit_s=60)
    assert harness.until_state(other, "succeeded", "failed")["state"] == "succeeded"  # the other project runs
