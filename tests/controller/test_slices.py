"""Fractional accelerators: a MIG slice flavor declared in the inventory is scheduled and charged as a flavor
of its own, and the run is handed its slice by the UUID the inventory names."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from aicc.config import Settings
from aicc.controller.loop import Controller
from aicc.core.allocations import FlavorQuota
from aicc.executors.discovery import selection
from aicc.executors.local import LocalExecutor
from aicc.services import allocations, inventory, metering, tokens
from aicc.services import jobs as job_service
from aicc.services.principal import SYSTEM
from aicc.store.db import Database
from aicc.store.models import FlavorRow, JobRow, ProjectRow, utcnow
from tests.world import INVENTORY, World

MIG = ("MIG-aaaa1111-0000-5000-8000-000000000000", "MIG-bbbb2222-0000-5000-8000-000000000000",
       "MIG-cccc3333-0000-5000-8000-000000000000")
SLICES = INVENTORY + f"""
[[flavors]]
name = "h100.1g.10gb"
vendor = "nvidia"
memory_gb = 10
su_rate = 0.25
slice_of = "h100"

[[nodes]]
name = "h100-mig"
flavor = "h100.1g.10gb"
accelerators = 3
cpus = 6
memory_gb = 60
devices = [{", ".join(f'"{m}"' for m in MIG)}]
"""


@pytest.fixture
def controller(settings: Settings, db: Database) -> Controller:
    fast = dataclasses.replace(settings, preempt_after_s=0.0)
    return Controller(fast, db, LocalExecutor(fast.jobs_dir, grace_s=0.5))


def test_a_slice_job_is_placed_on_slices_charged_at_their_rate_and_handed_its_mig_uuids(
        db: Database, world: World, settings: Settings, controller: Controller) -> None:
    with db.write() as s:
        inventory.load(s, SYSTEM, SLICES, "mig.toml")
        admin = tokens.authenticate(s, world.admin_token)
        view = allocations.get(s, admin, world.a.allocation_id)
        allocations.update(s, admin, world.a.allocation_id, version=view.row.version, changes={"quotas": {
            "h100": FlavorQuota(4, 4), "cpu": FlavorQuota(8, 8), "h100.1g.10gb": FlavorQuota(3, 0)}})
    with db.write() as s:
        member = tokens.authenticate(s, world.a.member_token)
        spec = job_service.JobSpec(project_id=world.a.project_id, command=["true"], flavors=["h100.1g.10gb"],
                                   accelerators=2, time_limit_s=3600)
        job_id = job_service.submit(s, member, settings, spec).ids[0]
    controller._schedule(utcnow())
    with db.read() as s:
        job = s.get(JobRow, job_id)
        assert job is not None and job.state == "admitted" and job.flavor == "h100.1g.10gb"
        assert job.placement[0][0] == "h100-mig" and list(job.placement[0][1]) == [0, 1]
        assert metering.flavor_rates(s)["h100.1g.10gb"][0] == 0.25  # charged as a flavor of its own
        flavor = s.execute(select(FlavorRow).where(FlavorRow.name == "h100.1g.10gb")).scalar_one()
        assert flavor.slice_of == "h100"
        project = s.get(ProjectRow, job.project_id)
        assert project is not None
        launch = controller._launch(job, flavor, project.name, [])
    assert launch.device_ids == {"h100-mig": MIG}
    assert selection(launch, "h100-mig", launch.placements[0].devices) == f"{MIG[0]},{MIG[1]}"
