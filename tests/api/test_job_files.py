"""What an ordinary job wrote is listable and downloadable by its project, only that, and kept for a retention."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from fastapi.testclient import TestClient

from aicc.config import Settings
from aicc.services import job_files
from aicc.services.unix_ids import project_uids
from aicc.store.db import Database
from aicc.store.models import JobRow, utcnow
from tests.world import World

H = World.auth


def a_job_that_wrote_files(client: TestClient, world: World, settings: Settings, db: Database) -> tuple[int, Path]:
    r = client.post("/api/v1/jobs", headers=H(world.a.member_token),
                    json={"project": "proj-a", "command": ["true"], "cpus": 1})
    job_id = r.json()["id"]
    uid = project_uids(db, settings, [world.a.project_id])[world.a.project_id]
    assert isinstance(uid, int)
    d = settings.jobs_dir / str(job_id)
    (d / "out").mkdir(parents=True)
    (d / "run-0").mkdir()  # the server's own state
    (d / "run-0" / "state.json").write_text("{}")
    (d / "job.sh").write_text("echo server's script")
    (d / "out" / "model.pt").write_bytes(b"weights" * 100)
    (d / "metrics.json").write_text('{"acc": 0.9}')
    for p in (d / "out", d / "out" / "model.pt", d / "metrics.json"):
        os.chown(p, uid, uid)
    return job_id, d


def test_the_project_lists_and_downloads_what_its_job_wrote_and_nothing_of_the_servers(
        app_client: TestClient, world: World, settings: Settings, db: Database) -> None:
    job_id, _ = a_job_that_wrote_files(app_client, world, settings, db)
    tok = H(world.a.member_token)
    listing = app_client.get(f"/api/v1/jobs/{job_id}/files", headers=tok).json()
    assert [(e["path"], e["kind"]) for e in listing["entries"]] == [("metrics.json", "file"), ("out", "dir")]
    inner = app_client.get(f"/api/v1/jobs/{job_id}/files", params={"path": "out"}, headers=tok).json()
    assert [e["path"] for e in inner["entries"]] == ["out/model.pt"]
    got = app_client.get(f"/api/v1/jobs/{job_id}/files/content", params={"path": "out/model.pt"},
                         headers={**tok, "Range": "bytes=0-6"})
    assert got.status_code == 206 and got.content == b"weights"
    for server_path in ("job.sh", "run-0/state.json"):
        r = app_client.get(f"/api/v1/jobs/{job_id}/files/content", params={"path": server_path}, headers=tok)
        assert r.status_code in (404, 422) and "server" not in r.text
    assert app_client.get(f"/api/v1/jobs/{job_id}/files", params={"path": "run-0"}, headers=tok).status_code == 404
    assert app_client.get(f"/api/v1/jobs/{job_id}/files", params={"path": "../1"}, headers=tok).status_code == 422
    for other in (world.b.member_token, world.b.admin_token, world.outsider_token):
        for url in (f"/api/v1/jobs/{job_id}/files", f"/api/v1/jobs/{job_id}/files/content?path=metrics.json"):
            assert app_client.get(url, headers=H(other)).status_code == 404


def test_directories_past_the_retention_are_removed_with_an_audit_event(
        app_client: TestClient, world: World, settings: Settings, db: Database) -> None:
    job_id, d = a_job_that_wrote_files(app_client, world, settings, db)
    assert job_files.expire(db, settings, utcnow()) == 0  # not ended: kept
    with db.write() as s:
        job = s.get(JobRow, job_id)
        assert job is not None
        job.state, job.ended_at = "succeeded", utcnow() - dt.timedelta(days=settings.job_files_retention_days - 1)
    assert job_files.expire(db, settings, utcnow()) == 0 and d.is_dir()  # within the retention
    assert job_files.expire(db, settings, utcnow() + dt.timedelta(days=2)) == 1
    assert not d.exists()
    events = app_client.get("/api/v1/audit", headers=H(world.admin_token), params={"limit": 100}).json()
    assert [e["target_id"] for e in events if e["action"] == "job.files_expired"] == [str(job_id)]
