"""Storage from programs' awards: the accepted award's storage adds to the project's workspace quota and reaches
the file system at once; lowering a quota below what the workspace holds is refused unless forced, and forced it
is applied with a warning audit event while the data stays (writes fail)."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from aicc.api.app import create_app
from aicc.config import Settings
from aicc.core import programs as rules
from aicc.core.workspaces import GIB
from aicc.services import applications, programs, reviews, workspaces
from aicc.services.principal import SYSTEM
from aicc.store.db import Database
from aicc.store.models import AgreementRow, AllocationRow, AuditEventRow, CallRow, utcnow
from tests.programs.helpers import make_program, principal
from tests.world import World

H = World.auth
API = "/api/v1"


@pytest.fixture
def default_gib() -> int:
    return 1


@pytest.fixture
def client(tmp_path: Path, db: Database, workspace_root: Path, default_gib: int) -> Iterator[TestClient]:
    settings = Settings(home=tmp_path / "home", database_url=db.url, max_body_bytes=256 * 1024, controller=False,
                        workspace_root=workspace_root, workspace_default_gib=default_gib)
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as c:
        c.app_settings = settings  # type: ignore[attr-defined]
        yield c


def awarded(db: Database, world: World, *, storage_gib: int, partial_gib: int | None = None) -> int:
    """An application asking for ``storage_gib`` beside its SU, reviewed and awarded; the offered agreement."""
    setup = make_program(db)
    a_admin = principal(db, world.a.admin_token)
    now = utcnow()
    with db.write() as s:
        app = applications.create(
            s, a_admin, call_id=setup.call_id, project_id=world.a.project_id, track=rules.Track.MEDICAL,
            title="storage-heavy", plan="", expected_outcomes="", team=[], requested_su={"h100": 100.0},
            requested_accelerators={"h100": 1}, starts_at=now - dt.timedelta(hours=1),
            ends_at=now + dt.timedelta(days=60), requested_storage_gib=storage_gib)
        applications.submit(s, a_admin, app.id)
        app_id = app.id
        made = reviews.assign_round_robin(s, SYSTEM, setup.call_id)
    with db.write() as s:
        for r in made:
            reviews.submit_scores(s, reviews_principal(r.reviewer_id), r.id,
                                  scores={"excellence": 8, "feasibility": 4}, comment="")
        programs.close_call(s, SYSTEM, setup.call_id)
    with db.write() as s:
        if partial_gib is None:
            reviews.decide(s, SYSTEM, app_id, decision=rules.Decision.AWARD, reason="good")
        else:
            reviews.decide(s, SYSTEM, app_id, decision=rules.Decision.PARTIAL, reason="less storage",
                           awarded_su={"h100": 50.0}, awarded_storage_gib=partial_gib)
        return s.execute(select(AgreementRow.id).where(AgreementRow.application_id == app_id)).scalar_one()


def reviews_principal(user_id: int):  # type: ignore[no-untyped-def]
    from aicc.core.tenancy import CenterRole
    from aicc.services.principal import Principal

    return Principal(user_id=user_id, username=f"r{user_id}", center_role=CenterRole.REVIEWER)


def fill(settings: Settings, project_id: int, uid_of: Path, size: str) -> None:
    """Preallocated bytes in the workspace, as a job would hold them (fallocate counts against the qgroup)."""
    path = workspaces.workspaces(settings).path_of(project_id) / "files" / "data.bin"
    st = uid_of.stat()
    subprocess.run(["setpriv", f"--reuid={st.st_uid}", f"--regid={st.st_gid}", "--clear-groups", "fallocate",
                    "-l", size, str(path)], check=True)
    subprocess.run(["sync"], check=True)


def test_an_accepted_awards_storage_adds_to_the_quota_and_reaches_the_file_system(
        client: TestClient, db: Database, world: World) -> None:
    settings: Settings = client.app_settings  # type: ignore[attr-defined]
    base = f"{API}/projects/{world.a.project_id}/workspace"
    assert client.get(base, headers=H(world.a.member_token)).json()["quota_bytes"] == 1 * GIB  # the default
    with db.write() as s:  # the project's own allocation grants 1 GiB too
        s.get(AllocationRow, world.a.allocation_id).storage_gib = 1  # type: ignore[union-attr]
    g = awarded(db, world, storage_gib=5, partial_gib=2)
    agreement = client.get(f"{API}/agreements/{g}", headers=H(world.a.admin_token)).json()
    assert (agreement["awarded_storage_gib"], agreement["current_storage_gib"]) == (2, 2)
    assert "2 GiB of storage" in agreement["terms"]
    accepted = client.post(f"{API}/agreements/{g}/accept", headers=H(world.a.admin_token))
    assert accepted.status_code == 200, accepted.text
    with db.read() as s:
        alloc = s.get(AllocationRow, accepted.json()["allocation_id"])
        assert alloc is not None and alloc.storage_gib == 2
    info = client.get(base, headers=H(world.a.member_token)).json()
    assert info["quota_bytes"] == 3 * GIB  # the allocation's 1 GiB + the award's 2 GiB
    assert workspaces.workspaces(settings).limit(world.a.project_id) == 3 * GIB  # the qgroup, not only the API
    top = client.post(f"{API}/agreements/{g}/amendments", headers=H(world.admin_token), json={
        "kind": "top_up", "delta_storage_gib": 4, "reason": "more data"})
    assert top.status_code == 201 and top.json()["delta_storage_gib"] == 4, top.text
    assert workspaces.workspaces(settings).limit(world.a.project_id) == 7 * GIB


def test_a_partial_award_cannot_give_more_storage_than_was_asked(db: Database, world: World) -> None:
    from aicc.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="at most the 1 GiB"):
        awarded(db, world, storage_gib=1, partial_gib=3)


@pytest.mark.parametrize("default_gib", [0])  # no default: the allocation's storage is the whole quota
def test_lowering_the_quota_below_use_is_refused_unless_forced_then_warned_and_enforced(
        client: TestClient, db: Database, world: World) -> None:
    settings: Settings = client.app_settings  # type: ignore[attr-defined]
    pid, base = world.a.project_id, f"{API}/projects/{world.a.project_id}/workspace"
    alloc = f"{API}/allocations/{world.a.allocation_id}"
    version = client.get(alloc, headers=H(world.admin_token)).json()["version"]
    raised = client.patch(alloc, headers=H(world.admin_token), json={"version": version, "storage_gib": 2})
    assert raised.status_code == 200, raised.text
    files = workspaces.workspaces(settings).path_of(pid) / "files"
    client.get(base, headers=H(world.a.member_token))  # the workspace exists
    fill(settings, pid, files, "8M")
    version = raised.json()["version"]
    refused = client.patch(alloc, headers=H(world.admin_token), json={"version": version, "storage_gib": 0})
    assert refused.status_code == 409 and refused.headers["content-type"].startswith("application/problem+json")
    assert "below that" in refused.json()["detail"]
    assert client.get(alloc, headers=H(world.admin_token)).json()["storage_gib"] == 2  # nothing changed
    assert workspaces.workspaces(settings).limit(pid) == 2 * GIB
    suspend = client.patch(alloc, headers=H(world.admin_token), json={"version": version, "suspended": True})
    assert suspend.status_code == 409  # a suspension takes the storage away too: same rule
    lowered = client.patch(alloc, headers=H(world.admin_token), json={"version": version, "storage_gib": 1})
    assert lowered.status_code == 200  # lower, but still above use: fine
    forced = client.patch(alloc, headers=H(world.admin_token), json={
        "version": lowered.json()["version"], "storage_gib": 0, "force_below_use": True})
    assert forced.status_code == 200, forced.text
    assert workspaces.workspaces(settings).limit(pid) == 0
    info = client.get(base, headers=H(world.a.member_token)).json()
    assert info["over_quota"] is True and info["used_bytes"] > info["quota_bytes"] == 0  # the data stayed
    write = subprocess.run(["setpriv", f"--reuid={files.stat().st_uid}", f"--regid={files.stat().st_gid}",
                            "--clear-groups", "sh", "-c", f"echo more >> {files}/more.txt"],
                           capture_output=True, text=True)
    assert write.returncode != 0 and "Disk quota exceeded" in write.stderr
    with db.read() as s:
        events = s.execute(select(AuditEventRow).where(AuditEventRow.action == "workspace.over_quota")).scalars()
        (event,) = list(events)
        assert event.target_id == str(pid) and event.data["forced"] is True
        assert event.data["quota_bytes"] == 0 and event.data["used_bytes"] >= 8 << 20


def test_housekeeping_applies_the_quota_an_ended_allocation_leaves_and_audits_it(
        client: TestClient, db: Database, world: World) -> None:
    settings: Settings = client.app_settings  # type: ignore[attr-defined]
    pid = world.a.project_id
    with db.write() as s:
        s.get(AllocationRow, world.a.allocation_id).storage_gib = 4  # type: ignore[union-attr]
    client.get(f"{API}/projects/{pid}/workspace", headers=H(world.a.member_token))
    assert workspaces.workspaces(settings).limit(pid) == 4 * GIB
    assert workspaces.sync_quotas(db, settings) == 0  # nothing changed: nothing written, nothing audited
    with db.write() as s:
        s.get(AllocationRow, world.a.allocation_id).ends_at = utcnow() - dt.timedelta(minutes=1)  # type: ignore[union-attr]
    assert workspaces.sync_quotas(db, settings) == 1
    assert workspaces.workspaces(settings).limit(pid) == 1 * GIB
    with db.read() as s:
        (event,) = s.execute(select(AuditEventRow).where(AuditEventRow.action == "workspace.quota")).scalars()
        assert event.data["old_quota_bytes"] == 4 * GIB and event.data["quota_bytes"] == GIB


def test_the_programs_report_shows_each_awards_storage_and_what_it_cost(
        client: TestClient, db: Database, world: World) -> None:
    from aicc.services import program_reports
    from aicc.store.models import UsageRow

    g = awarded(db, world, storage_gib=5)
    accepted = client.post(f"{API}/agreements/{g}/accept", headers=H(world.a.admin_token)).json()
    now = utcnow()
    with db.write() as s:
        s.add(UsageRow(kind="storage", job_id=0, attempt=0, interval=1, allocation_id=accepted["allocation_id"],
                       project_id=world.a.project_id, flavor="storage", accelerators=0, cpus=0,
                       started_at=now - dt.timedelta(hours=2), ended_at=now, su=0.75, gib=4.0))
        call = s.get(CallRow, s.get(AgreementRow, g).call_id)  # type: ignore[union-attr]
        assert call is not None
        report = program_reports.build(s, SYSTEM, call.program_id)
    table = report.sections["storage"]
    assert table.columns[3:] == ["awarded_storage_gib", "current_storage_gib", "storage_su", "storage_gib_hours"]
    assert table.rows == [[g, world.a.org_name, world.a.project_name, 5, 5, 0.75, 8.0]]
    settlement = report.sections["settlement"]
    assert settlement.rows[0][6] == pytest.approx(0.75)  # storage is spent from the award like its runs
    assert "storage" in program_reports.SECTIONS
