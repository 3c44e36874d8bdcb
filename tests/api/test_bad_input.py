"""Bad input gets a clear 4xx problem and writes nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.world import World

H = World.auth

GOOD_ALLOC = {"name": "x", "budget_su": 10, "starts_at": "2027-01-01T00:00:00Z", "ends_at": "2027-02-01T00:00:00Z"}


def count(app_client: TestClient, world: World, url: str) -> int:
    return len(app_client.get(url, headers=H(world.admin_token), params={"limit": 500}).json()["items"])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"budget_su": -5}, "body.budget_su"),
        ({"budget_su": "lots"}, "body.budget_su"),
        ({"ends_at": "2026-12-01T00:00:00Z"}, "body"),
        ({"starts_at": "2027-01-01T00:00:00"}, "body.starts_at"),  # no time zone
        ({"starts_at": "0001-01-01T00:00:00+14:00"}, "body.starts_at"),
        ({"colour": "blue"}, "body.colour"),
        ({"quotas": {"h100": {"nominal": -1}}}, "body.quotas.h100.nominal"),
        ({"quotas": {"../etc": {"nominal": 1}}}, "body.quotas.../etc.[key]"),
        ({"weight": 0}, "body.weight"),
    ],
)
def test_invalid_allocations_are_rejected_and_nothing_is_written(
    app_client: TestClient, world: World, change: dict[str, object], field: str
) -> None:
    before = count(app_client, world, "/api/v1/allocations")
    body = {**GOOD_ALLOC, "project_id": world.a.project_id, **change}
    r = app_client.post("/api/v1/allocations", headers=H(world.admin_token), json=body)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert problem["status"] == 422 and problem["title"] == "Invalid input" and problem["detail"]
    assert problem["errors"][0]["field"] == field
    assert count(app_client, world, "/api/v1/allocations") == before


def test_unknown_flavor_in_quota_is_a_clear_error(app_client: TestClient, world: World) -> None:
    body = {**GOOD_ALLOC, "project_id": world.a.project_id, "quotas": {"tpu-v5": {"nominal": 1}}}
    r = app_client.post("/api/v1/allocations", headers=H(world.admin_token), json=body)
    assert r.status_code == 422 and "unknown flavor(s) tpu-v5" in r.json()["detail"]


def test_oversized_body_is_refused_before_parsing(app_client: TestClient, world: World) -> None:
    big = {"name": "big", "display_name": "x" * 300_000, "kind": "startup"}
    r = app_client.post("/api/v1/organizations", headers=H(world.admin_token), json=big)
    assert r.status_code == 413 and r.json()["title"] == "Payload too large"


def test_chunked_oversized_body_is_refused(app_client: TestClient, world: World) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(400):
            yield b"x" * 1024

    r = app_client.post("/api/v1/organizations", headers={**H(world.admin_token), "content-type": "application/json"},
                        content=chunks())
    assert r.status_code == 413


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/organizations", {"name": "Bad Name!", "display_name": "x", "kind": "startup"}),
        ("/api/v1/organizations", {"name": "ok-name", "display_name": "x", "kind": "pirate"}),
        ("/api/v1/organizations", {"name": "ok-name", "display_name": "tab\there", "kind": "startup"}),
        ("/api/v1/organizations", {"name": "ok-name", "display_name": "nul\u0000", "kind": "startup"}),
        ("/api/v1/users", {"username": "../root", "display_name": "x"}),
        ("/api/v1/projects", {"organization_id": 99999999999, "name": "p", "title": "t"}),
        ("/api/v1/tokens", {"name": "t", "ttl_days": 0}),
    ],
)
def test_malformed_bodies_get_422(app_client: TestClient, world: World, url: str, body: dict[str, object]) -> None:
    r = app_client.post(url, headers=H(world.admin_token), json=body)
    assert r.status_code == 422, r.text
    assert r.json()["errors"]


def test_not_json_and_huge_ids_are_client_errors(app_client: TestClient, world: World) -> None:
    h = {**H(world.admin_token), "content-type": "application/json"}
    assert app_client.post("/api/v1/organizations", headers=h, content=b"{not json").status_code == 422
    assert app_client.get("/api/v1/projects/99999999999999", headers=h).status_code == 422
    assert app_client.get("/api/v1/projects/-1", headers=h).status_code == 422
    assert app_client.get("/api/v1/nowhere", headers=h).status_code == 404
    assert app_client.put("/api/v1/projects", headers=h).status_code == 405


@pytest.mark.parametrize("field", ["budget_su", "ends_at", "starts_at", "weight", "name"])
def test_null_for_a_field_that_cannot_be_empty_is_a_422_and_changes_nothing(
        app_client: TestClient, world: World, field: str) -> None:
    h = World.auth(world.admin_token)
    url = f"/api/v1/allocations/{world.a.allocation_id}"
    before = app_client.get(url, headers=h).json()
    r = app_client.patch(url, headers=h, json={"version": before["version"], field: None, "note": "x"})
    assert r.status_code == 422 and f"{field} cannot be null" in r.text
    assert app_client.get(url, headers=h).json() == before


def test_null_clears_a_field_that_may_be_empty(app_client: TestClient, world: World) -> None:
    h = World.auth(world.admin_token)
    url = f"/api/v1/organizations/{world.a.org_id}"
    org = app_client.get(url, headers=h).json()
    r = app_client.patch(url, headers=h, json={"version": org["version"], "region": None})
    assert r.status_code == 200 and r.json()["region"] is None
