"""Services through the API: create (validated), list, show, update, rollback, scale, keys, events, tenancy."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.world import World

H = World.auth
BASE = {"project": "proj-a", "name": "ocr", "command": ["python3", "-m", "aicc.testbed.serve"], "port": 8000,
        "health": "/health", "replicas": 2, "min_replicas": 1, "max_replicas": 4, "flavors": ["cpu"]}


def _create(client: TestClient, token: str, **over: Any) -> dict[str, Any]:
    r = client.post("/api/v1/services", headers=H(token), json={**BASE, **over})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_a_member_creates_a_service_that_shows_its_revision_and_address(app_client: TestClient,
                                                                        world: World) -> None:
    svc = _create(app_client, world.a.member_token)
    assert svc["state"] == "active" and svc["revision"] == 1 and svc["replicas"] == 2
    assert svc["address"] == "/svc/proj-a/ocr/" and svc["current"]["port"] == 8000
    assert svc["current"]["flavors"] == ["cpu"] and svc["live_replicas"] == []
    listed = app_client.get("/api/v1/services", headers=H(world.a.member_token)).json()
    assert [s["name"] for s in listed] == ["ocr"]
    events = app_client.get(f"/api/v1/services/{svc['id']}/events", headers=H(world.a.member_token)).json()
    assert events[0]["kind"] == "created"


def test_names_are_dns_labels_unique_per_project(app_client: TestClient, world: World) -> None:
    for bad in ("OCR", "-ocr", "ocr-", "o_cr", "1ocr", "a" * 64, "ocr.v2"):
        r = app_client.post("/api/v1/services", headers=H(world.a.member_token), json={**BASE, "name": bad})
        assert r.status_code == 422, bad
        assert r.headers["content-type"] == "application/problem+json"
    _create(app_client, world.a.member_token)
    r = app_client.post("/api/v1/services", headers=H(world.a.member_token), json=BASE)
    assert r.status_code == 409 and "already has a service named ocr" in r.json()["detail"]
    other = _create(app_client, world.b.member_token, project="proj-b")  # the same name in another project
    assert other["address"] == "/svc/proj-b/ocr/"


def test_bad_replica_bounds_ports_and_health_paths_are_refused(app_client: TestClient, world: World) -> None:
    for over in ({"replicas": 5, "max_replicas": 4}, {"min_replicas": 3}, {"port": 0}, {"port": 70000},
                 {"health": "health"}, {"health": "/a b"}, {"flavors": ["h200"]}, {"replicas": 17},
                 {"command": [], "image": None}):
        r = app_client.post("/api/v1/services", headers=H(world.a.member_token), json={**BASE, **over})
        assert r.status_code == 422, (over, r.text)


def test_update_makes_a_revision_and_rollback_returns_to_the_previous(app_client: TestClient,
                                                                       world: World) -> None:
    svc = _create(app_client, world.a.member_token)
    r = app_client.post(f"/api/v1/services/{svc['id']}/revisions", headers=H(world.a.member_token),
                        json={"env": {"MODEL_VERSION": "2"}})
    assert r.status_code == 201 and r.json()["revision"] == 2 and r.json()["previous_revision"] == 1
    r = app_client.post(f"/api/v1/services/{svc['id']}/rollback", headers=H(world.a.member_token))
    assert r.json()["revision"] == 1 and r.json()["previous_revision"] == 2
    scaled = app_client.post(f"/api/v1/services/{svc['id']}/scale", headers=H(world.a.member_token),
                             json={"replicas": 3}).json()
    assert (scaled["replicas"], scaled["min_replicas"], scaled["max_replicas"]) == (3, 1, 4)
    kinds = [e["kind"] for e in app_client.get(f"/api/v1/services/{svc['id']}/events",
                                               headers=H(world.a.member_token)).json()]
    assert kinds == ["created", "updated", "rolled_back", "scaled"]


def test_keys_are_shown_once_stored_hashed_and_revocable(app_client: TestClient, world: World) -> None:
    svc = _create(app_client, world.a.member_token)
    r = app_client.post(f"/api/v1/services/{svc['id']}/keys", headers=H(world.a.member_token),
                        json={"name": "customer-1", "rate_per_s": 5})
    assert r.status_code == 201
    key = r.json()["key"]
    assert key.startswith("aicc_svc_") and r.json()["burst"] == 5
    listed = app_client.get(f"/api/v1/services/{svc['id']}/keys", headers=H(world.a.member_token)).json()
    assert "key" not in listed[0] and listed[0]["revoked_at"] is None
    from sqlalchemy import select

    from aicc.store.models import ServiceKeyRow

    with app_client.app.state.db.read() as s:  # type: ignore[attr-defined]
        stored = s.execute(select(ServiceKeyRow)).scalar_one()
    assert key.split("_")[-1] not in stored.secret_hash and len(stored.secret_hash) == 64
    r = app_client.delete(f"/api/v1/services/{svc['id']}/keys/{listed[0]['id']}", headers=H(world.a.member_token))
    assert r.json()["revoked_at"] is not None


def test_another_tenant_sees_no_service_and_no_keys(app_client: TestClient, world: World) -> None:
    svc = _create(app_client, world.a.member_token)
    for method, path in [("get", f"/api/v1/services/{svc['id']}"), ("get", f"/api/v1/services/{svc['id']}/keys"),
                         ("post", f"/api/v1/services/{svc['id']}/rollback"),
                         ("delete", f"/api/v1/services/{svc['id']}"),
                         ("get", f"/api/v1/services/{svc['id']}/events")]:
        r = app_client.request(method, path, headers=H(world.b.admin_token))
        assert r.status_code == 404, (method, path, r.text)
    assert app_client.get("/api/v1/services", headers=H(world.b.admin_token)).json() == []
    r = app_client.post("/api/v1/services", headers=H(world.b.member_token), json=BASE)  # proj-a: not theirs
    assert r.status_code == 404


def test_delete_frees_the_name(app_client: TestClient, world: World) -> None:
    svc = _create(app_client, world.a.member_token)
    assert app_client.delete(f"/api/v1/services/{svc['id']}", headers=H(world.a.member_token)).status_code == 200
    assert app_client.get(f"/api/v1/services/{svc['id']}", headers=H(world.a.member_token)).status_code == 404
    _create(app_client, world.a.member_token)


def test_stop_keeps_the_service_and_its_keys_until_start(app_client: TestClient, world: World) -> None:
    svc = _create(app_client, world.a.member_token)
    sid, tok = svc["id"], world.a.member_token
    assert app_client.post(f"/api/v1/services/{sid}/keys", headers=H(tok), json={"name": "k"}).status_code == 201
    assert app_client.post(f"/api/v1/services/{sid}/stop", headers=H(world.b.member_token)).status_code == 404
    stopped = app_client.post(f"/api/v1/services/{sid}/stop", headers=H(tok)).json()
    assert stopped["state"] == "stopped" and "stopped by" in stopped["reason"]
    assert len(app_client.get(f"/api/v1/services/{sid}/keys", headers=H(tok)).json()) == 1
    assert app_client.post(f"/api/v1/services/{sid}/start", headers=H(tok)).json()["state"] == "active"
    kinds = [e["kind"] for e in app_client.get(f"/api/v1/services/{sid}/events", headers=H(tok)).json()]
    assert "stopped" in kinds
