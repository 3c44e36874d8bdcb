"""A center without the testbed's packages refuses a benchmark run at once, saying what to install, instead of
running a job that fails later with the cause buried in its stderr."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from aicc.services import testbed
from aicc.store.db import Database
from aicc.store.models import JobRow
from tests.world import World

H = World.auth


def test_bench_run_without_the_testbed_extra_is_refused_before_any_job(
        app_client: TestClient, world: World, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    # as if the server's Python lacked one of the runner's modules (numpy, LoadGen)
    monkeypatch.setattr(testbed, "RUNNER_MODULES", ("numpy", "aicc_no_such_module"))
    r = app_client.post("/api/v1/bench/runs", headers=H(world.a.member_token),
                        json={"project": "proj-a", "flavor": "cpu", "workload": "ocr-cls"})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "lacks aicc_no_such_module" in detail and "aicc[testbed]" in detail
    with db.read() as s:
        assert s.execute(select(func.count()).select_from(JobRow)).scalar_one() == 0


def test_this_environment_has_what_the_runner_imports() -> None:
    assert testbed.missing_runner_modules() == []
    assert testbed.missing_runner_modules(lambda name: None) == list(testbed.RUNNER_MODULES)
