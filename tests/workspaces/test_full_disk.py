"""A full disk (not a quota): a small loop-mounted btrfs filled to the brim. An upload is refused before its
bytes are sent when the free space already says so; one that meets the full disk mid-way gets 507 and is
discarded (audited), so nothing half-written is left registered or holding the disk; a job's write gets ENOSPC."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from aicc.api.app import create_app
from aicc.config import Settings
from aicc.services.workspaces import workspaces
from aicc.store.db import Database
from aicc.store.models import AuditEventRow
from tests.world import World

H = World.auth
MIB = 1 << 20
SCRIPTS = Path(__file__).parent.parent.parent / "scripts"


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 256 MiB btrfs with quotas, all its own (filling the shared test file system would hurt other tests)."""
    mnt = Path(tempfile.mkdtemp(prefix="aicc-full-disk-"))
    subprocess.run([SCRIPTS / "workspaces-up", str(mnt), "256M"], check=True, capture_output=True)
    try:
        yield mnt
    finally:
        subprocess.run([SCRIPTS / "workspaces-down", str(mnt), "--purge"], check=False, capture_output=True)


@pytest.fixture
def client(tmp_path: Path, db: Database, small_disk: Path) -> Iterator[TestClient]:
    settings = Settings(home=tmp_path / "home", database_url=db.url, max_body_bytes=256 * 1024, controller=False,
                        workspace_root=small_disk / "root", workspace_default_gib=10)  # the quota is not the limit
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as c:
        c.app_settings = settings  # type: ignore[attr-defined]
        yield c


def fill_to_the_brim(mnt: Path) -> None:
    """Preallocate until the file system says ENOSPC, in ever smaller pieces (btrfs frees space lazily)."""
    piece, n = 64 * MIB, 0
    while piece >= 4096:
        n += 1
        done = subprocess.run(["fallocate", "-l", str(piece), str(mnt / f"filler-{n}")], capture_output=True)
        if done.returncode != 0:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(mnt / f"filler-{n}")
            piece //= 2
    subprocess.run(["sync"], check=True)


def test_a_full_disk_refuses_uploads_and_job_writes_and_leaves_nothing_half_written(
        client: TestClient, db: Database, world: World, small_disk: Path) -> None:
    settings: Settings = client.app_settings  # type: ignore[attr-defined]
    base, tok = f"/api/v1/projects/{world.a.project_id}/workspace", world.a.member_token
    data = os.urandom(32 * MIB)
    early = client.post(f"{base}/uploads", headers=H(tok), json={
        "path": "late.bin", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    assert early.status_code == 201, early.text  # declared while there was room
    fill_to_the_brim(small_disk)
    refused = client.post(f"{base}/uploads", headers=H(tok), json={"path": "new.bin", "size": 8 * MIB})
    assert refused.status_code == 507 and refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["title"] == "Storage full" and "nothing was sent" in refused.json()["detail"]
    uid = early.json()["id"]
    part = client.put(f"{base}/uploads/{uid}", params={"offset": 0}, content=data, headers=H(tok))
    assert part.status_code == 507, part.text
    assert part.headers["content-type"].startswith("application/problem+json")
    assert "ENOSPC" in part.json()["detail"] and "discarded" in part.json()["detail"]
    assert client.get(f"{base}/uploads/{uid}", headers=H(tok)).status_code == 404  # nothing to resume or finish
    assert client.post(f"{base}/uploads/{uid}/finish", json={}, headers=H(tok)).status_code == 404
    ws_path = workspaces(settings).path_of(world.a.project_id)
    assert os.listdir(ws_path / ".uploads") == []  # no part holding the disk
    listing = client.get(f"{base}/list", headers=H(tok)).json()
    assert listing["entries"] == []  # nothing registered
    with db.read() as s:
        (event,) = s.execute(select(AuditEventRow).where(AuditEventRow.action == "workspace.upload_discard")).scalars()
        assert event.data["upload_id"] == uid and "ENOSPC" in event.data["reason"]
    files = ws_path / "files"
    job = subprocess.run(["setpriv", f"--reuid={files.stat().st_uid}", f"--regid={files.stat().st_gid}",
                          "--clear-groups", "dd", "if=/dev/zero", f"of={files}/out.bin", "bs=1M", "count=16",
                          "conv=fsync"], capture_output=True, text=True)
    assert job.returncode != 0 and "No space left on device" in job.stderr  # what a job writing there sees
