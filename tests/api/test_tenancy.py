"""One tenant never sees another's objects: 404 (not 403), and lists leave them out."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.world import World

H = World.auth


def other_tenant_urls(w: World) -> list[tuple[str, str, dict[str, object] | None]]:
    b = w.b
    return [
        ("GET", f"/api/v1/organizations/{b.org_id}", None),
        ("PATCH", f"/api/v1/organizations/{b.org_id}", {"version": 1, "display_name": "pwned"}),
        ("DELETE", f"/api/v1/organizations/{b.org_id}", None),
        ("GET", f"/api/v1/organizations/{b.org_id}/members", None),
        ("POST", f"/api/v1/organizations/{b.org_id}/members", {"username": "a-member"}),
        ("DELETE", f"/api/v1/organizations/{b.org_id}/members/{b.member_id}", None),
        ("POST", f"/api/v1/organizations/{b.org_id}/invitations", {"username": "a-member"}),
        ("GET", f"/api/v1/organizations/{b.org_id}/invitations", None),
        ("DELETE", f"/api/v1/organizations/{b.org_id}/invitations/1", None),
        ("POST", "/api/v1/invitations/1/accept", None),
        ("GET", f"/api/v1/projects/{b.project_id}", None),
        ("PATCH", f"/api/v1/projects/{b.project_id}", {"version": 1, "title": "pwned"}),
        ("DELETE", f"/api/v1/projects/{b.project_id}", None),
        ("GET", f"/api/v1/projects/{b.project_id}/members", None),
        ("POST", f"/api/v1/projects/{b.project_id}/members", {"username": "a-member"}),
        ("DELETE", f"/api/v1/projects/{b.project_id}/members/{b.member_id}", None),
        ("GET", f"/api/v1/allocations/{b.allocation_id}", None),
        ("GET", f"/api/v1/users/{b.member_id}", None),
        ("GET", f"/api/v1/users/{b.admin_id}", None),
    ]


@pytest.mark.parametrize("who", ["admin", "member"])
def test_other_tenants_objects_are_not_found(app_client: TestClient, world: World, who: str) -> None:
    token = world.a.admin_token if who == "admin" else world.a.member_token
    for method, url, body in other_tenant_urls(world):
        r = app_client.request(method, url, json=body, headers=H(token))
        assert r.status_code == 404, (method, url, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert "org-b" not in r.text and "proj-b" not in r.text
    # and nothing changed
    r = app_client.get(f"/api/v1/projects/{world.b.project_id}", headers=H(world.b.admin_token))
    assert r.json()["title"] == "Project b"
    r = app_client.get(f"/api/v1/organizations/{world.b.org_id}/members", headers=H(world.b.admin_token))
    assert {m["username"] for m in r.json()} == {"b-admin", "b-member"}


def test_nonexistent_and_foreign_ids_answer_the_same(app_client: TestClient, world: World) -> None:
    foreign = app_client.get(f"/api/v1/projects/{world.b.project_id}", headers=H(world.a.admin_token))
    missing = app_client.get("/api/v1/projects/99999", headers=H(world.a.admin_token))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()


def test_lists_show_only_own_tenant(app_client: TestClient, world: World) -> None:
    for url, key in [("/api/v1/organizations", "name"), ("/api/v1/projects", "name"),
                     ("/api/v1/allocations", "project"), ("/api/v1/users", "username")]:
        r = app_client.get(url, headers=H(world.a.admin_token))
        assert r.status_code == 200, url
        names = {item[key] for item in r.json()["items"]}
        assert names and not any(n.endswith("-b") or n.startswith("b-") for n in names), (url, names)
    r = app_client.get("/api/v1/projects", headers=H(world.b.admin_token))
    assert [p["name"] for p in r.json()["items"]] == ["proj-b"]


def test_outsider_sees_nothing_but_themself_and_the_inventory(app_client: TestClient, world: World) -> None:
    h = H(world.outsider_token)
    assert app_client.get("/api/v1/organizations", headers=h).json()["items"] == []
    assert app_client.get("/api/v1/projects", headers=h).json()["items"] == []
    assert app_client.get("/api/v1/allocations", headers=h).json()["items"] == []
    assert app_client.get("/api/v1/users/me", headers=h).json()["username"] == "nobody"
    assert len(app_client.get("/api/v1/nodes", headers=h).json()) == 4
    assert app_client.get(f"/api/v1/allocations/{world.a.allocation_id}", headers=h).status_code == 404


def test_plain_member_sees_own_projects_not_the_rest_of_the_org(app_client: TestClient, world: World) -> None:
    admin = H(world.a.admin_token)
    r = app_client.post("/api/v1/projects", headers=admin, json={
        "organization_id": world.a.org_id, "name": "proj-a2", "title": "Second"})
    assert r.status_code == 201
    second = r.json()["id"]
    member = H(world.a.member_token)
    assert app_client.get(f"/api/v1/projects/{second}", headers=member).status_code == 404
    assert [p["name"] for p in app_client.get("/api/v1/projects", headers=member).json()["items"]] == ["proj-a"]


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", "/api/v1/organizations", {"name": "x", "display_name": "X", "kind": "startup"}),
        ("POST", "/api/v1/users", {"username": "eve", "display_name": "Eve"}),
        ("POST", "/api/v1/inventory", {"toml": "[site]\nname='x'\n", "source": "x.toml"}),
        ("GET", "/api/v1/audit/verify", None),
    ],
)
def test_center_admin_only_actions_are_forbidden_to_org_admins(
    app_client: TestClient, world: World, method: str, url: str, body: dict[str, object] | None
) -> None:
    r = app_client.request(method, url, json=body, headers=H(world.a.admin_token))
    assert r.status_code == 403, r.text
    assert r.json()["title"] == "Forbidden"


def test_members_cannot_administer_their_own_org(app_client: TestClient, world: World) -> None:
    h = H(world.a.member_token)
    r = app_client.patch(f"/api/v1/projects/{world.a.project_id}", headers=h, json={"version": 1, "title": "x"})
    assert r.status_code == 403  # a member sees the project but cannot change it
    assert app_client.get(f"/api/v1/projects/{world.a.project_id}", headers=h).json()["title"] == "Project a"
    r = app_client.post(f"/api/v1/projects/{world.a.project_id}/members", headers=h, json={"username": "a-admin"})
    assert r.status_code == 403
    r = app_client.post("/api/v1/allocations", headers=H(world.a.admin_token), json={
        "project_id": world.a.project_id, "name": "more", "budget_su": 10,
        "starts_at": "2027-01-01T00:00:00Z", "ends_at": "2027-02-01T00:00:00Z"})
    assert r.status_code == 403
