"""Jobs start as their project's uid; a project the range has no uid left for fails with that reason."""

from __future__ import annotations

import dataclasses

from aicc.controller.loop import Controller
from aicc.executors.local import LocalExecutor
from tests.controller.conftest import Harness


def test_jobs_run_as_their_projects_uid_and_a_full_range_fails_with_the_reason(harness: Harness) -> None:
    h = harness
    tight = dataclasses.replace(h.settings, uid_count=2)
    h.controller = Controller(tight, h.db, LocalExecutor(tight.jobs_dir, grace_s=0.5))
    ok = h.submit(h.world.a.member_token, flavors=["cpu"], command=["sh", "-c", "id -u"])
    assert h.until_state(ok, "succeeded")["exit_code"] == 0
    assert (tight.jobs_dir / str(ok) / "stdout.log").read_text().splitlines()[-1] == str(tight.uid_base + 1)
    refused = h.submit(h.world.b.member_token, project="proj-b", flavors=["cpu"])
    job = h.until_state(refused, "failed")
    assert job["reason"].startswith("could not start: uid range exhausted")
