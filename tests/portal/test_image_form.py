"""The submit form's image field: a good reference is stored (a digest named at submit is recorded at once) and
shown on the job's page; a bad one comes back on the form with the reason."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aicc.config import Settings
from aicc.store.db import Database
from aicc.store.models import JobRow
from tests.portal.conftest import csrf_of
from tests.world import World

Portal = Callable[[str | None], TestClient]
DIGEST = "sha256:" + "c0" * 32


@pytest.fixture
def settings(tmp_path: Path, db: Database) -> Settings:
    base = Settings(home=tmp_path / "home", database_url=db.url, max_body_bytes=256 * 1024, controller=False)
    return dataclasses.replace(base, registries="registry.example.org")


def test_the_submit_form_takes_an_image_and_the_job_page_shows_it_with_its_digest(
        portal: Portal, pworld: World, db: Database) -> None:
    c = portal("a-member")
    form = c.get("/jobs/new")
    assert 'id="image"' in form.text
    base = {"csrf": csrf_of(form.text), "project_id": pworld.a.project_id, "command": "python3 train.py",
            "flavors": "cpu"}
    r = c.post("/jobs", data={**base, "image": f"registry.example.org/team/torch:2.4@{DIGEST}"},
               follow_redirects=False)
    assert r.status_code == 303, r.text
    job_id = int(r.headers["location"].split("/")[2].split("?")[0])
    with db.read() as s:
        row = s.get(JobRow, job_id)
        assert row is not None and row.image_ref == f"registry.example.org/team/torch:2.4@{DIGEST}"
        assert row.image_digest == DIGEST
    page = c.get(f"/jobs/{job_id}")
    assert DIGEST in page.text and "registry.example.org/team/torch:2.4" in page.text
    bad = c.post("/jobs", data={**base, "image": "evil.example.com/x:1"})
    assert bad.status_code == 422 and "registry evil.example.com is not allowed here" in bad.text
