"""Storage charged per GiB-month: the housekeeping samples each workspace (a real btrfs qgroup) and writes one
ledger row per project and interval, against the allocation granting the most storage; the balance, ``aicc
usage`` and the ledger CSV show it."""

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
from aicc.core.charging import storage_su
from aicc.core.workspaces import GIB
from aicc.services import inventory, metering, storage_metering, workspaces
from aicc.services.principal import SYSTEM
from aicc.store.db import Database
from aicc.store.models import AllocationRow, UsageRow, utcnow
from tests.world import INVENTORY, World

H = World.auth
MIB = 1 << 20


@pytest.fixture
def client(tmp_path: Path, db: Database, workspace_root: Path) -> Iterator[TestClient]:
    settings = Settings(home=tmp_path / "home", database_url=db.url, max_body_bytes=256 * 1024, controller=False,
                        workspace_root=workspace_root, workspace_default_gib=1)
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as c:
        c.app_settings = settings  # type: ignore[attr-defined]
        yield c


def held(settings: Settings, project_id: int, mib: int) -> int:
    """``mib`` MiB preallocated in the workspace as its project's uid; the bytes the qgroup then counts."""
    files = workspaces.workspaces(settings).path_of(project_id) / "files"
    st = files.stat()
    subprocess.run(["setpriv", f"--reuid={st.st_uid}", f"--regid={st.st_gid}", "--clear-groups", "fallocate", "-l",
                    f"{mib}M", str(files / "data.bin")], check=True)
    subprocess.run(["sync"], check=True)
    return workspaces.workspaces(settings).usage(project_id)


def test_storage_is_sampled_and_charged_once_per_interval_against_the_budget(
        client: TestClient, db: Database, world: World) -> None:
    settings: Settings = client.app_settings  # type: ignore[attr-defined]
    with db.write() as s:
        inventory.load(s, SYSTEM, INVENTORY + "\n[storage]\nsu_per_gb_month = 0.5\n", "test.toml")
    pid = world.a.project_id
    client.get(f"/api/v1/projects/{pid}/workspace", headers=H(world.a.member_token))  # made on first use
    used = held(settings, pid, 256)
    assert used >= 256 * MIB
    now = utcnow()
    assert storage_metering.charge_all(db, settings, now) == 1  # only project a has a workspace
    assert storage_metering.charge_all(db, settings, now) == 0  # the same interval again: a no-op
    later = now + dt.timedelta(hours=2)
    assert storage_metering.charge_all(db, settings, later) == 1
    with db.read() as s:
        rows = list(s.execute(select(UsageRow).where(UsageRow.kind == "storage").order_by(UsageRow.id)).scalars())
        expected = [(pid, world.a.allocation_id, "storage")] * 2
        assert [(r.project_id, r.allocation_id, r.flavor) for r in rows] == expected
        assert rows[0].ended_at == rows[1].started_at == now  # contiguous: nothing lost, nothing twice
        assert rows[0].started_at == now - dt.timedelta(hours=1)
        assert rows[1].gib == pytest.approx(used / GIB)
        assert rows[1].su == pytest.approx(storage_su(gib=used / GIB, seconds=7200, su_per_gb_month=0.5))
        total = sum(r.su for r in rows)
        (summary,) = metering.summaries(s, SYSTEM, project_id=pid)
        assert summary.used_su == pytest.approx(total)  # the same balance as runs draw from
    shown = client.get("/api/v1/usage/storage", headers=H(world.a.member_token)).json()
    assert [(r["project"], r["su_per_gb_month"]) for r in shown] == [(world.a.project_name, 0.5)]
    assert shown[0]["charged_su"] == pytest.approx(total, abs=1e-6)
    assert client.get("/api/v1/usage/storage", headers=H(world.b.member_token)).json()[0]["charged_su"] == 0.0
    csv = client.get("/api/v1/usage/ledger.csv", headers=H(world.a.member_token)).text.splitlines()
    assert csv[0].endswith(",su,kind,gib") and all(",storage," in line for line in csv[1:]) and len(csv) == 3


def test_storage_held_without_an_active_allocation_is_not_charged(
        client: TestClient, db: Database, world: World) -> None:
    settings: Settings = client.app_settings  # type: ignore[attr-defined]
    pid = world.a.project_id
    client.get(f"/api/v1/projects/{pid}/workspace", headers=H(world.a.member_token))
    held(settings, pid, 16)
    with db.write() as s:
        s.get(AllocationRow, world.a.allocation_id).suspended = True  # type: ignore[union-attr]
    assert storage_metering.charge_all(db, settings, utcnow()) == 0
    with db.read() as s:
        assert s.execute(select(UsageRow).where(UsageRow.kind == "storage")).first() is None
