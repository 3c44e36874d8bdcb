"""A hospital (tenant b) that holds a sensitive dataset, and a startup (tenant a) that wants to use it."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from aicc.config import Settings
from aicc.core.tenancy import OrgRole
from aicc.services import organizations, tokens, users
from aicc.services.principal import SYSTEM
from aicc.store.db import Database
from tests.controller.conftest import harness  # noqa: F401 - the controller fixture, for the end-to-end tests
from tests.world import World

COLUMNS = [
    {"name": "patient_id", "role": "identifier"},
    {"name": "age_band", "role": "quasi_identifier"},
    {"name": "sex", "role": "quasi_identifier"},
    {"name": "diagnosis", "role": "other"},
    {"name": "los_days", "role": "other"},
]


def write_patients(path: Path, rows: int = 60, *, rare: bool = False) -> None:
    """Patients in 40s/50s/60s × F/M bands (k = rows / 6 ≥ 5); ``rare`` adds one person alone in a band."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["patient_id", "age_band", "sex", "diagnosis", "los_days"])
        for i in range(rows):
            w.writerow([f"900101-{1000000 + i}", ["40s", "50s", "60s"][i % 3], "FM"[i % 2],
                        ["pneumonia", "copd", "asthma"][i % 3], str(3 + i % 7)])
        if rare:
            w.writerow(["900101-9999999", "90s", "F", "copd", "30"])


@dataclass
class Zone:
    client: TestClient
    world: World
    settings: Settings
    custodian_token: str

    @property
    def hospital(self) -> int:
        return self.world.b.org_id

    def h(self, token: str) -> dict[str, str]:
        return World.auth(token)

    def register(self, name: str = "cxr", path: str = "cxr", **body: Any) -> dict[str, Any]:
        body = {"organization_id": self.hospital, "name": name, "title": "Chest X-ray cohort",
                "classification": "sensitive", "path": path, "columns": COLUMNS, "pseudonymize": True, **body}
        r = self.client.post("/api/v1/datasets", headers=self.h(self.custodian_token), json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def publish(self, dataset_id: int) -> dict[str, Any]:
        r = self.client.post(f"/api/v1/datasets/{dataset_id}/publish", headers=self.h(self.custodian_token))
        assert r.status_code == 200, r.text
        return dict(r.json())

    def grant(self, dataset: str = "cxr", *, approve: bool = True) -> dict[str, Any]:
        expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
        r = self.client.post("/api/v1/grants", headers=self.h(self.world.a.member_token), json={
            "dataset": dataset, "project_id": self.world.a.project_id,
            "purpose": "train a pneumonia classifier", "expires_at": expires})
        assert r.status_code == 201, r.text
        g = r.json()
        if approve:
            r = self.client.post(f"/api/v1/grants/{g['id']}/decision", headers=self.h(self.custodian_token),
                                 json={"approve": True, "comment": "IRB 2026-041"})
            assert r.status_code == 200, r.text
            g = r.json()
        return dict(g)

    def ready(self) -> dict[str, Any]:
        """Registered, published, granted to proj-a."""
        write_patients(self.settings.datasets_root / "cxr" / "patients.csv")
        ds = self.publish(self.register()["id"])
        self.grant()
        return ds


def make_custodian(db: Database, org_id: int) -> str:
    with db.write() as s:
        u = users.create(s, SYSTEM, username="b-custodian", display_name="Data custodian", email=None,
                         center_role=None)
        organizations.add_member(s, SYSTEM, org_id, username=u.username, role=OrgRole.DATA_CUSTODIAN)
        return tokens.issue(s, SYSTEM, user_id=u.id, name="t", ttl_days=1, default_ttl_days=1).token


@pytest.fixture
def zone(app_client: TestClient, world: World, settings: Settings, db: Database) -> Zone:
    return Zone(app_client, world, settings, make_custodian(db, world.b.org_id))
