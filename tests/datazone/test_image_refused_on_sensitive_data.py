"""A job on sensitive data cannot name an image yet (the data zone's sandbox has no image path): refused at
submit with the reason, never started in an image outside the sandbox."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from aicc.config import Settings
from aicc.store.db import Database
from tests.datazone.conftest import Zone


@pytest.fixture
def settings(tmp_path: Path, db: Database) -> Settings:
    base = Settings(home=tmp_path / "home", database_url=db.url, max_body_bytes=256 * 1024, controller=False)
    return dataclasses.replace(base, registries="registry.example.org")


def test_a_sensitive_data_job_with_an_image_is_refused_at_submit(zone: Zone) -> None:
    zone.ready()
    body = {"project": "proj-a", "command": ["python3", "a.py"], "flavors": ["cpu"], "datasets": ["cxr"],
            "image": "registry.example.org/team/py:3.13"}
    r = zone.client.post("/api/v1/jobs", headers=zone.h(zone.world.a.member_token), json=body)
    assert r.status_code == 422 and "cannot run in an image yet" in r.json()["detail"]
    del body["image"]
    assert zone.client.post("/api/v1/jobs", headers=zone.h(zone.world.a.member_token), json=body).status_code == 201
