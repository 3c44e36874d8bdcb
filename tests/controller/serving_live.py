"""A live center for service tests: the real app (controller, supervisor, gateway) served by uvicorn in a
thread on a free port, real replicas on the local engine, and helpers to wait for what they do."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from aicc.api.app import create_app
from aicc.config import Settings
from aicc.controller.serving import ServingConfig
from aicc.store.db import Database
from tests.world import World, build_world

SERVER = [sys.executable, "-m", "aicc.testbed.serve", "--port", "8000"]
FAST = ServingConfig(interval_s=0.2, probe_timeout_s=1.0, unhealthy_restart_after=2, startup_timeout_s=90,
                     max_failed_starts=3, drain_s=1.0, up_cooldown_s=1.0, down_cooldown_s=3.0, budget_every_s=0.3)


@dataclass
class Live:
    url: str
    world: World
    db: Database
    settings: Settings
    app: FastAPI

    def api(self, method: str, path: str, token: str, **kw: Any) -> httpx.Response:
        return httpx.request(method, self.url + "/api/v1" + path, headers=World.auth(token), timeout=30, **kw)

    def create(self, token: str, **body: Any) -> dict[str, Any]:
        body = {"project": "proj-a", "command": SERVER, "flavors": ["cpu"], "cpus": 1, "memory_mb": 1024, **body}
        r = self.api("POST", "/services", token, json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def key(self, token: str, service_id: int, **body: Any) -> str:
        r = self.api("POST", f"/services/{service_id}/keys", token, json={"name": "k", "rate_per_s": 1000, **body})
        assert r.status_code == 201, r.text
        return str(r.json()["key"])

    def show(self, service_id: int) -> dict[str, Any]:
        return dict(self.api("GET", f"/services/{service_id}", self.world.admin_token).json())

    def events(self, service_id: int) -> list[dict[str, Any]]:
        return list(self.api("GET", f"/services/{service_id}/events", self.world.admin_token).json())

    def until(self, check: Callable[[], Any], timeout: float = 60.0, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"not reached within {timeout} s: {what}")

    def ready(self, service_id: int, n: int, revision: int | None = None, timeout: float = 90.0) -> list[int]:
        def check() -> list[int]:
            reps = [r for r in self.show(service_id)["live_replicas"] if r["replica_state"] == "ready"
                    and (revision is None or r["service_revision"] == revision)]
            return [r["id"] for r in reps] if len(reps) == n else []

        return list(self.until(check, timeout, f"{n} ready replicas of service {service_id}: "
                               f"{self.events(service_id)[-5:]}"))

    def gateway(self, path: str, key: str | None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.request(kw.pop("method", "GET"), self.url + path, headers=headers, timeout=30, **kw)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def live_center(db: Database, config: ServingConfig = FAST, inventory: str | None = None,
                **settings_over: Any) -> Iterator[Live]:
    # A short home: a replica's socket path (<home>/jobs/<id>/run-<n>/service.sock) must fit in 107 bytes.
    home = Path(tempfile.mkdtemp(prefix="svc", dir="/tmp"))
    home.chmod(0o755)
    world = build_world(db) if inventory is None else build_world(db, inventory)
    settings = Settings(home=home, database_url=db.url, controller=True, tick_s=0.2, preempt_grace_s=3.0,
                        **settings_over)
    app = create_app(settings, db)
    app.state.supervisor.config = dataclasses.replace(config)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_keep_alive=30))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    live = Live(f"http://127.0.0.1:{port}", world, db, settings, app)
    try:
        live.until(lambda: server.started, 20, "uvicorn started")
        yield live
    finally:
        for svc in live.api("GET", "/services", world.admin_token).json():
            live.api("DELETE", f"/services/{svc['id']}", world.admin_token)
        with contextlib.suppress(AssertionError):
            live.until(lambda: not [j for j in live.api("GET", "/jobs", world.admin_token,
                                                         params={"kind": "service", "limit": 200}).json()["items"]
                                    if j["state"] in ("pending", "admitted", "running")], 30, "replicas ended")
        server.should_exit = True
        thread.join(20)
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def sqlite_center(tmp_path: Path, sqlite_template: Path, **settings_over: Any) -> Iterator[Live]:
    """A live center on a copy of the migrated SQLite template: for tests about processes and bytes, not SQL."""
    from tests.conftest import audit_seal

    shutil.copy(sqlite_template, tmp_path / "aicc.db")
    db = Database(f"sqlite:///{tmp_path / 'aicc.db'}", audit_seal=audit_seal(tmp_path / "home"))
    try:
        with live_center(db, **settings_over) as center:
            yield center
    finally:
        db.dispose()
