"""A controller over a real database and the real local executor, driven cycle by cycle."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from aicc.config import Settings
from aicc.controller.loop import Controller
from aicc.executors.local import LocalExecutor
from aicc.store.db import Database
from tests.world import World


@dataclass
class Harness:
    client: TestClient
    world: World
    settings: Settings
    db: Database
    controller: Controller

    def submit(self, token: str, **body: Any) -> int:
        body.setdefault("project", "proj-a")
        body.setdefault("command", ["sh", "-c", "true"])
        r = self.client.post("/api/v1/jobs", headers=World.auth(token), json=body)
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    def job(self, job_id: int) -> dict[str, Any]:
        r = self.client.get(f"/api/v1/jobs/{job_id}", headers=World.auth(self.world.admin_token))
        return dict(r.json())

    def until(self, check: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.controller.cycle()
            if check():
                return
            time.sleep(0.05)
        raise AssertionError("condition not reached")

    def until_state(self, job_id: int, *states: str, timeout: float = 20.0) -> dict[str, Any]:
        self.until(lambda: self.job(job_id)["state"] in states, timeout)
        return self.job(job_id)

    def restart_controller(self) -> Controller:
        self.controller = Controller(self.settings, self.db, LocalExecutor(self.settings.jobs_dir, grace_s=0.5))
        return self.controller


@pytest.fixture
def harness(app_client: TestClient, world: World, settings: Settings, db: Database) -> Iterator[Harness]:
    fast = dataclasses.replace(settings, preempt_grace_s=0.5, preempt_after_s=0.0)
    app_client.app.state.settings = fast  # type: ignore[attr-defined]
    controller = Controller(fast, db, LocalExecutor(fast.jobs_dir, grace_s=0.5))
    yield Harness(app_client, world, fast, db, controller)
