"""The workspace page: use against quota, files to download, and parted uploads behind the session's CSRF."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aicc.api.app import create_app
from aicc.config import Settings
from aicc.store.db import Database
from tests.portal.conftest import csrf_of, sign_in
from tests.world import World

MIB = 1 << 20


@pytest.fixture
def signed_in(tmp_path: Path, db: Database, pworld: World,
              workspace_root: Path) -> Iterator[Callable[[str], TestClient]]:
    settings = Settings(home=tmp_path / "home", database_url=db.url, max_body_bytes=256 * 1024, controller=False,
                        workspace_root=workspace_root, workspace_default_gib=1)
    app = create_app(settings, db)
    clients: list[TestClient] = []

    def make(username: str) -> TestClient:
        c = TestClient(app)
        c.__enter__()
        clients.append(c)
        return sign_in(c, username)

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def test_a_member_uploads_in_parts_sees_the_file_and_downloads_it(signed_in: Callable[[str], TestClient],
                                                                   pworld: World) -> None:
    c = signed_in("a-member")
    base = f"/projects/{pworld.a.project_id}/workspace"
    page = c.get(base)
    assert page.status_code == 200 and 'id="ws-progress"' in page.text and "/static/workspace.js" in page.text
    csrf = csrf_of(page.text.replace('data-csrf="', 'name="csrf" value="'))
    data = b"x" * (3 * MIB)  # over the 256 KiB body limit: parts are streamed
    refused = c.post(f"{base}/uploads", json={"path": "up/a.bin", "size": len(data)})
    assert refused.status_code == 403  # no CSRF header: nothing starts
    up = c.post(f"{base}/uploads", json={"path": "up/a.bin", "size": len(data)}, headers={"X-CSRF": csrf}).json()
    for offset in (0, 2 * MIB):
        r = c.put(f"{base}/uploads/{up['id']}", params={"offset": offset}, content=data[offset:offset + 2 * MIB],
                  headers={"X-CSRF": csrf})
        assert r.status_code == 200, r.text
    done = c.post(f"{base}/uploads/{up['id']}/finish", json={}, headers={"X-CSRF": csrf}).json()
    assert done["sha256"] == hashlib.sha256(data).hexdigest()
    listing = c.get(base, params={"path": "up"})
    assert "a.bin" in listing.text and f"{base}/file?path=up/a.bin" in listing.text
    assert c.get(f"{base}/file", params={"path": "up/a.bin"}).content == data
    assert "/workspace" in c.get(f"/projects/{pworld.a.project_id}").text


def test_another_organizations_member_gets_404(signed_in: Callable[[str], TestClient], pworld: World) -> None:
    c = signed_in("b-member")
    assert c.get(f"/projects/{pworld.a.project_id}/workspace").status_code == 404
    assert c.get(f"/projects/{pworld.a.project_id}/workspace/file", params={"path": "x"}).status_code == 404


def test_the_project_dashboard_shows_storage_use_against_quota_and_what_it_was_charged(
        signed_in: Callable[[str], TestClient], pworld: World, db: Database) -> None:
    import datetime as dt

    from aicc.services import inventory
    from aicc.services.principal import SYSTEM
    from aicc.store.models import UsageRow, utcnow
    from tests.world import INVENTORY

    c = signed_in("a-member")
    base = f"/projects/{pworld.a.project_id}"
    page = c.get(base).text  # Korean by default; no workspace made yet: nothing used
    assert 'id="pj-ws-use"' in page and 'max="1073741824"' in page and 'value="0"' in page
    assert "워크스페이스 사용량" in page and "1 GiB 중 0 GiB" in page and "스토리지 요금" not in page
    with db.write() as s:
        inventory.load(s, SYSTEM, INVENTORY + "\n[storage]\nsu_per_gb_month = 0.5\n", "test.toml")
        now = utcnow()
        s.add(UsageRow(kind="storage", job_id=0, attempt=0, interval=1, allocation_id=pworld.a.allocation_id,
                       project_id=pworld.a.project_id, flavor="storage", accelerators=0, cpus=0,
                       started_at=now - dt.timedelta(hours=1), ended_at=now, su=1.25, gib=0.5))
    en = c.get(base, headers={"Accept-Language": "en"}).text
    assert "Workspace used" in en and "1.25 SU charged for storage, at 0.5 SU per GiB-month." in en
    assert "Over quota" not in en
