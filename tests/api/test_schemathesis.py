"""Property-based fuzzing of the whole API from its own OpenAPI document.

Schemathesis generates valid and invalid requests for every operation; the
server must never answer 5xx and every response must match the documented
schema. Bounded examples keep it inside CI's time budget.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from aicc.api.app import create_app
from aicc.config import Settings
from aicc.store.db import Database
from aicc.store.migrate import upgrade
from tests.conftest import audit_seal
from tests.world import build_world


def _app():  # type: ignore[no-untyped-def]
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="aicc-fuzz-"))
    db = Database(f"sqlite:///{home / 'aicc.db'}", audit_seal=audit_seal(home))
    upgrade(db.engine)
    world = build_world(db)
    app = create_app(Settings(home=home, database_url=db.url, max_body_bytes=64 * 1024, controller=False), db)
    app.state.fuzz_token = world.admin_token
    return app


APP = _app()
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_fails_and_answers_as_documented(case: schemathesis.Case) -> None:
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {APP.state.fuzz_token}"}
    response = case.call()
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
    case.validate_response(response, checks=(response_schema_conformance, content_type_conformance))


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_need_no_token(path: str) -> None:
    from fastapi.testclient import TestClient

    assert TestClient(APP).get(path).status_code == 200
