"""A project's workspace through the API: resumable, checksummed uploads; ranged downloads; quota refusals;
paths that could escape refused; another organization sees 404 for everything."""

from __future__ import annotations

import hashlib
import json
import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aicc.api.app import create_app
from aicc.config import Settings
from aicc.services.workspaces import workspaces
from aicc.store.db import Database
from tests.world import World

H = World.auth
MIB = 1 << 20


@pytest.fixture
def client(tmp_path: Path, db: Database, workspace_root: Path) -> Iterator[TestClient]:
    settings = Settings(home=tmp_path / "home", database_url=db.url, max_body_bytes=256 * 1024, controller=False,
                        workspace_root=workspace_root, workspace_default_gib=1)
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as c:
        c.app_settings = settings  # type: ignore[attr-defined]
        yield c


def ws(w: World, tag: str = "a") -> str:
    return f"/api/v1/projects/{getattr(w, tag).project_id}/workspace"


def upload(c: TestClient, base: str, token: str, path: str, data: bytes, **extra: object) -> dict[str, object]:
    r = c.post(f"{base}/uploads", headers=H(token),
               json={"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), **extra})
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    r = c.put(f"{base}/uploads/{uid}", params={"offset": 0}, content=data, headers=H(token))
    assert r.status_code == 200 and r.json()["offset"] == len(data), r.text
    r = c.post(f"{base}/uploads/{uid}/finish", json={}, headers=H(token))
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_an_upload_resumes_where_the_server_stands_and_the_download_matches(client: TestClient,
                                                                           world: World) -> None:
    base, tok = ws(world), world.a.member_token
    data = os.urandom(3 * MIB + 17)  # bigger than the API's body limit: parts are streamed, not limited
    digest = hashlib.sha256(data).hexdigest()
    r = client.post(f"{base}/uploads", headers=H(tok), json={"path": "in/model.bin", "size": len(data),
                                                              "sha256": digest})
    uid = r.json()["id"]
    assert client.put(f"{base}/uploads/{uid}", params={"offset": 0}, content=data[:MIB], headers=H(tok)).json()[
        "offset"] == MIB
    stale = client.put(f"{base}/uploads/{uid}", params={"offset": 0}, content=data[:10], headers=H(tok))
    assert stale.status_code == 409 and "at byte 1048576" in stale.json()["detail"]
    offset = client.get(f"{base}/uploads/{uid}", headers=H(tok)).json()["offset"]
    client.put(f"{base}/uploads/{uid}", params={"offset": offset}, content=data[offset:], headers=H(tok))
    done = client.post(f"{base}/uploads/{uid}/finish", json={"sha256": digest}, headers=H(tok))
    assert done.json() == {"path": "in/model.bin", "size": len(data), "sha256": digest}
    got = client.get(f"{base}/content", params={"path": "in/model.bin"}, headers=H(tok))
    assert got.status_code == 200 and got.content == data and got.headers["accept-ranges"] == "bytes"
    part = client.get(f"{base}/content", params={"path": "in/model.bin"}, headers={**H(tok), "Range": "bytes=5-9"})
    assert part.status_code == 206 and part.content == data[5:10]
    assert part.headers["content-range"] == f"bytes 5-9/{len(data)}"
    tail = client.get(f"{base}/content", params={"path": "in/model.bin"}, headers={**H(tok), "Range": "bytes=-4"})
    assert tail.content == data[-4:]
    bad = client.get(f"{base}/content", params={"path": "in/model.bin"},
                     headers={**H(tok), "Range": f"bytes={len(data)}-"})
    assert bad.status_code == 416
    assert client.get(f"{base}/checksum", params={"path": "in/model.bin"}, headers=H(tok)).json()["sha256"] == digest
    listing = client.get(f"{base}/list", params={"path": "in"}, headers=H(tok)).json()
    assert [(e["path"], e["kind"], e["size"]) for e in listing["entries"]] == [("in/model.bin", "file", len(data))]
    st = (Path(client.app_settings.workspaces_dir) / f"p{world.a.project_id}" / "files" / "in" / "model.bin").stat()  # type: ignore[attr-defined]
    assert st.st_uid >= 200_000  # the project's uid: its jobs may change what it uploaded


def test_a_checksum_that_does_not_match_discards_the_upload(client: TestClient, world: World) -> None:
    base, tok = ws(world), world.a.member_token
    r = client.post(f"{base}/uploads", headers=H(tok), json={"path": "x.bin", "size": 4, "sha256": "0" * 64})
    uid = r.json()["id"]
    client.put(f"{base}/uploads/{uid}", params={"offset": 0}, content=b"abcd", headers=H(tok))
    bad = client.post(f"{base}/uploads/{uid}/finish", json={}, headers=H(tok))
    assert bad.status_code == 422 and "checksum mismatch" in bad.json()["detail"]
    assert client.get(f"{base}/uploads/{uid}", headers=H(tok)).status_code == 404
    assert client.get(f"{base}/content", params={"path": "x.bin"}, headers=H(tok)).status_code == 404


def test_a_part_past_the_declared_size_is_refused(client: TestClient, world: World) -> None:
    base, tok = ws(world), world.a.member_token
    uid = client.post(f"{base}/uploads", headers=H(tok), json={"path": "s.bin", "size": 4}).json()["id"]
    r = client.put(f"{base}/uploads/{uid}", params={"offset": 0}, content=b"abcdef", headers=H(tok))
    assert r.status_code == 422 and client.get(f"{base}/uploads/{uid}", headers=H(tok)).json()["offset"] == 0


def test_a_size_over_the_quota_is_refused_before_any_byte_is_sent(client: TestClient, world: World) -> None:
    base, tok = ws(world), world.a.member_token
    r = client.post(f"{base}/uploads", headers=H(tok), json={"path": "huge.bin", "size": 2 << 30})
    assert r.status_code == 507 and r.json()["title"] == "Workspace quota exceeded"
    first = client.post(f"{base}/uploads", headers=H(tok), json={"path": "a.bin", "size": 700 * MIB})
    assert first.status_code == 201  # declared, nothing sent yet: its bytes are reserved
    second = client.post(f"{base}/uploads", headers=H(tok), json={"path": "b.bin", "size": 700 * MIB})
    assert second.status_code == 507 and "uploads in progress" in second.json()["detail"]
    info = client.get(base, headers=H(tok)).json()
    assert info["quota_bytes"] == 1 << 30 and info["enforcement"] == "filesystem" and info["mount"] == "/workspace"


def test_the_file_system_refusing_a_part_gives_the_quota_error(client: TestClient, world: World) -> None:
    base, tok = ws(world), world.a.member_token
    uid = client.post(f"{base}/uploads", headers=H(tok), json={"path": "f.bin", "size": 8 * MIB}).json()["id"]
    spaces = workspaces(client.app_settings)  # type: ignore[attr-defined]
    spaces.backend.set_limit(spaces.path_of(world.a.project_id), 2 * MIB)  # e.g. a job filled it meanwhile
    r = client.put(f"{base}/uploads/{uid}", params={"offset": 0}, content=b"z" * (8 * MIB), headers=H(tok))
    assert r.status_code == 507 and "EDQUOT" in r.json()["detail"]


@pytest.mark.parametrize("path", ["../etc/passwd", "/etc/passwd", "a/../../x", "a//b", "./a", "a\x00b", "a\nb",
                                  "a\x1b[31m", "evil\u202etxt", "\udcff", "x" * 256, ".aicc-upload"])
def test_paths_that_could_escape_or_deceive_are_refused(client: TestClient, world: World, path: str) -> None:
    base, tok = ws(world), {**H(world.a.member_token), "content-type": "application/json"}
    as_json = json.dumps  # ASCII escapes: a lone surrogate arrives as the server would decode it
    r = client.post(f"{base}/uploads", headers=tok, content=as_json({"path": path, "size": 1}))
    assert r.status_code == 422, r.text
    query = "path=" + urllib.parse.quote(path.encode("utf-8", "surrogateescape"))  # raw bytes, e.g. %FF
    for method, url, body in (("GET", f"{base}/content?{query}", None), ("GET", f"{base}/list?{query}", None),
                              ("DELETE", f"{base}/files?{query}", None),
                              ("POST", f"{base}/move", as_json({"src": "a", "dst": path}))):
        r = client.request(method, url, headers=tok, content=body)
        assert r.status_code == 422, (method, path, r.status_code, r.text)


def test_links_fifos_and_foreign_files_a_job_left_are_never_followed_or_served(client: TestClient,
                                                                               world: World) -> None:
    base, tok = ws(world), world.a.member_token
    upload(client, base, tok, "keep.txt", b"mine")
    files = workspaces(client.app_settings).path_of(world.a.project_id) / "files"  # type: ignore[attr-defined]
    secret = files.parent.parent / "secret.txt"
    secret.write_text("root's")
    (files / "link").symlink_to(secret)
    (files / "dirlink").symlink_to(files.parent.parent, target_is_directory=True)
    os.mkfifo(files / "fifo")
    (files / "hard").write_text("root's")  # as a hard link to a file not the project's would look (owner root)
    for path in ("link", "dirlink/secret.txt", "fifo", "hard"):
        r = client.get(f"{base}/content", params={"path": path}, headers=H(tok))
        assert r.status_code == 422 and "root's" not in r.text, (path, r.text)
    assert client.get(f"{base}/list", params={"path": "dirlink"}, headers=H(tok)).status_code == 422
    assert client.delete(f"{base}/files", params={"path": "dirlink/secret.txt"}, headers=H(tok)).status_code == 422
    assert client.delete(f"{base}/files", params={"path": "link"}, headers=H(tok)).status_code == 200
    assert secret.read_text() == "root's"  # the link went, not what it pointed to
    (files / "bad\nname").write_text("x")
    listing = client.get(f"{base}/list", headers=H(tok)).json()
    assert listing["hidden"] == 1 and "bad\nname" not in {e["path"] for e in listing["entries"]}


def test_remove_and_move_change_the_workspace_and_are_audited(client: TestClient, world: World) -> None:
    base, tok = ws(world), world.a.member_token
    upload(client, base, tok, "d/one.txt", b"1")
    upload(client, base, tok, "two.txt", b"2")
    assert client.post(f"{base}/move", json={"src": "two.txt", "dst": "d/one.txt"}, headers=H(tok)).status_code == 409
    assert client.post(f"{base}/move", json={"src": "two.txt", "dst": "e/two.txt"}, headers=H(tok)).status_code == 200
    assert client.delete(f"{base}/files", params={"path": "d"}, headers=H(tok)).status_code == 409
    assert client.delete(f"{base}/files", params={"path": "d", "recursive": True}, headers=H(tok)).status_code == 200
    names = [e["path"] for e in client.get(f"{base}/list", headers=H(tok)).json()["entries"]]
    assert names == ["e"]
    events = client.get("/api/v1/audit", headers=H(world.admin_token), params={"limit": 100}).json()
    actions = [e["action"] for e in events if e["action"].startswith("workspace.")]
    assert sorted(actions) == ["workspace.move", "workspace.remove", "workspace.upload", "workspace.upload"]


def test_another_organization_gets_404_for_everything(client: TestClient, world: World) -> None:
    upload(client, ws(world, "b"), world.b.member_token, "b-secret.txt", b"b's data")
    base = ws(world, "b")
    uid = client.post(f"{base}/uploads", headers=H(world.b.member_token), json={"path": "p", "size": 1}).json()["id"]
    for token in (world.a.admin_token, world.a.member_token, world.outsider_token):
        for method, url, kw in (
            ("GET", base, {}), ("GET", f"{base}/list", {}),
            ("GET", f"{base}/content", {"params": {"path": "b-secret.txt"}}),
            ("GET", f"{base}/checksum", {"params": {"path": "b-secret.txt"}}),
            ("POST", f"{base}/uploads", {"json": {"path": "x", "size": 1}}),
            ("GET", f"{base}/uploads/{uid}", {}), ("PUT", f"{base}/uploads/{uid}", {"params": {"offset": 0},
                                                                                     "content": b"x"}),
            ("POST", f"{base}/uploads/{uid}/finish", {"json": {}}), ("DELETE", f"{base}/uploads/{uid}", {}),
            ("DELETE", f"{base}/files", {"params": {"path": "b-secret.txt"}}),
            ("POST", f"{base}/move", {"json": {"src": "b-secret.txt", "dst": "mine.txt"}}),
        ):
            r = client.request(method, url, headers=H(token), **kw)  # type: ignore[arg-type]
            assert r.status_code == 404, (method, url, r.status_code, r.text)
            assert "b-secret" not in r.text
    got = client.get(f"{base}/content", params={"path": "b-secret.txt"}, headers=H(world.b.member_token))
    assert got.content == b"b's data"


def test_a_deleted_projects_workspace_is_kept_aside_out_of_reach_then_expires_with_audit(
        client: TestClient, world: World, db: Database) -> None:
    import dataclasses

    from aicc.services.workspaces import expire_retired

    admin = H(world.a.admin_token)
    made = client.post("/api/v1/projects", headers=admin, json={"organization_id": world.a.org_id,
                                                                "name": "short-lived", "title": "Short"})
    pid = made.json()["id"]
    upload(client, f"/api/v1/projects/{pid}/workspace", world.a.admin_token, "results.csv", b"1,2\n")
    assert client.delete(f"/api/v1/projects/{pid}", headers=admin).status_code == 204
    spaces = workspaces(client.app_settings)  # type: ignore[attr-defined]
    assert not spaces.path_of(pid).exists()
    (kept,) = [p for p in spaces.root.iterdir() if p.name.startswith(f"retired-p{pid}-")]
    assert (kept / "files" / "results.csv").read_bytes() == b"1,2\n"
    again = client.post("/api/v1/projects", headers=admin, json={"organization_id": world.a.org_id,
                                                                 "name": "next-one", "title": "Next"}).json()["id"]
    listing = client.get(f"/api/v1/projects/{again}/workspace/list", headers=admin).json()
    assert listing["entries"] == []  # even when the id is reused, the old files are not there
    settings = client.app_settings  # type: ignore[attr-defined]
    assert expire_retired(db, settings) == 0  # within the retention
    assert expire_retired(db, dataclasses.replace(settings, workspace_retention_days=-1)) == 1
    assert not kept.exists()
    events = client.get("/api/v1/audit", headers=H(world.admin_token), params={"limit": 200}).json()
    actions = [e["action"] for e in events]
    assert "workspace.retire" in actions and "workspace.expire" in actions


def test_storage_use_is_measured_per_project_and_shown_only_to_its_tenant(client: TestClient, world: World) -> None:
    upload(client, ws(world), world.a.member_token, "weights.bin", os.urandom(2 * MIB))
    os.sync()  # btrfs counts a write at its transaction's commit
    rows = client.get("/api/v1/usage/storage", headers=H(world.admin_token)).json()
    mine = {r["project"]: r for r in rows}
    assert mine["proj-a"]["used_bytes"] >= 2 * MIB and mine["proj-a"]["quota_bytes"] == 1 << 30
    assert mine["proj-a"]["enforcement"] == "filesystem"
    theirs = client.get("/api/v1/usage/storage", headers=H(world.b.member_token)).json()
    assert [r["project"] for r in theirs] == ["proj-b"]


def test_an_abandoned_upload_expires_with_an_audit_event_and_frees_its_reservation(
        client: TestClient, world: World, db: Database) -> None:
    from aicc.services import workspaces as svc

    base, tok = ws(world), world.a.member_token
    uid = client.post(f"{base}/uploads", headers=H(tok), json={"path": "half.bin", "size": 900 * MIB}).json()["id"]
    client.put(f"{base}/uploads/{uid}", params={"offset": 0}, content=b"z" * MIB, headers=H(tok))
    assert client.post(f"{base}/uploads", headers=H(tok), json={"path": "b", "size": 200 * MIB}).status_code == 507
    settings = client.app_settings  # type: ignore[attr-defined]
    assert svc.expire_uploads(db, settings) == 0  # a fresh one stays
    state = workspaces(settings).path_of(world.a.project_id) / ".uploads" / f"{uid}.json"
    old = json.loads(state.read_text())
    state.write_text(json.dumps({**old, "created": old["created"] - svc.UPLOAD_TTL_S - 1}))
    assert svc.expire_uploads(db, settings) == 1
    assert client.get(f"{base}/uploads/{uid}", headers=H(tok)).status_code == 404
    assert client.post(f"{base}/uploads", headers=H(tok), json={"path": "b", "size": 200 * MIB}).status_code == 201
    events = client.get("/api/v1/audit", headers=H(world.admin_token), params={"limit": 100}).json()
    (event,) = [e for e in events if e["action"] == "workspace.upload_expire"]
    assert event["data"]["uploads"][0]["sent"] == MIB
