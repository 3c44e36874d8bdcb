"""API tokens: hashed at rest, shown once, listable, revocable, expiring."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from aicc.services import tokens
from aicc.store.db import Database
from aicc.store.models import ApiTokenRow
from tests.world import World

H = World.auth


def test_token_is_shown_once_and_stored_only_as_a_hash(app_client: TestClient, world: World, db: Database) -> None:
    r = app_client.post("/api/v1/tokens", headers=H(world.a.member_token), json={"name": "laptop", "ttl_days": 7})
    assert r.status_code == 201
    issued = r.json()
    secret = issued["token"]
    assert secret.startswith("aicc_")
    listed = app_client.get("/api/v1/tokens", headers=H(world.a.member_token)).json()
    assert all("token" not in t for t in listed) and issued["id"] in [t["id"] for t in listed]
    with db.read() as s:
        rows = s.execute(select(ApiTokenRow)).scalars().all()
        assert not any(secret.split("_")[2] in (r.secret_hash, r.public_id) for r in rows)
    assert app_client.get("/api/v1/users/me", headers=H(secret)).json()["username"] == "a-member"


def test_revoked_token_stops_working_at_once(app_client: TestClient, world: World) -> None:
    issued = app_client.post("/api/v1/tokens", headers=H(world.a.member_token), json={"name": "x"}).json()
    assert app_client.get("/api/v1/users/me", headers=H(issued["token"])).status_code == 200
    r = app_client.delete(f"/api/v1/tokens/{issued['id']}", headers=H(world.a.member_token))
    assert r.status_code == 200 and r.json()["revoked_at"]
    r = app_client.get("/api/v1/users/me", headers=H(issued["token"]))
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")


def test_others_tokens_are_invisible_and_unrevokable(app_client: TestClient, world: World) -> None:
    issued = app_client.post("/api/v1/tokens", headers=H(world.b.member_token), json={"name": "x"}).json()
    assert app_client.delete(f"/api/v1/tokens/{issued['id']}", headers=H(world.a.admin_token)).status_code == 404
    r = app_client.get("/api/v1/tokens", headers=H(world.a.admin_token), params={"user_id": world.b.member_id})
    assert r.status_code == 403
    r = app_client.post("/api/v1/tokens", headers=H(world.a.admin_token),
                        json={"name": "x", "user_id": world.a.member_id})
    assert r.status_code == 403  # only a center admin issues tokens for someone else
    assert app_client.get("/api/v1/users/me", headers=H(issued["token"])).status_code == 200


def test_expired_malformed_and_missing_tokens_get_401(app_client: TestClient, world: World, db: Database) -> None:
    issued = app_client.post("/api/v1/tokens", headers=H(world.a.member_token), json={"name": "x"}).json()
    with db.write() as s:
        s.execute(update(ApiTokenRow).where(ApiTokenRow.id == issued["id"])
                  .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    tokens.invalidate_cache()
    for headers in [H(issued["token"]), H("aicc_000000000000_nope"), H("garbage"), {"Authorization": "Basic x"},
                    {}]:
        r = app_client.get("/api/v1/projects", headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["content-type"] == "application/problem+json"


def test_disabled_user_is_locked_out(app_client: TestClient, world: World) -> None:
    admin = H(world.admin_token)
    user = app_client.get(f"/api/v1/users/{world.a.member_id}", headers=admin).json()
    r = app_client.patch(f"/api/v1/users/{user['id']}", headers=admin, json={"version": user["version"],
                                                                           "disabled": True})
    assert r.status_code == 200
    assert app_client.get("/api/v1/users/me", headers=H(world.a.member_token)).status_code == 401
