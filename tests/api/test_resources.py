"""CRUD through the real app: pagination, filters, optimistic concurrency, audit of every change."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.world import World

H = World.auth


def test_organization_lifecycle(app_client: TestClient, world: World) -> None:
    h = H(world.admin_token)
    r = app_client.post("/api/v1/organizations", headers=h, json={
        "name": "gist-lab", "display_name": "GIST AI Lab", "kind": "university", "region": "광주광역시"})
    assert r.status_code == 201, r.text
    org = r.json()
    assert org["version"] == 1 and org["kind"] == "university"
    r = app_client.patch(f"/api/v1/organizations/{org['id']}", headers=h, json={"version": 1, "display_name": "GIST"})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["display_name"] == "GIST"
    # a second writer still holding version 1 loses, and nothing is overwritten
    r = app_client.patch(f"/api/v1/organizations/{org['id']}", headers=h, json={"version": 1, "display_name": "Old"})
    assert r.status_code == 409 and r.json()["title"] == "Stale version"
    assert app_client.get(f"/api/v1/organizations/{org['id']}", headers=h).json()["display_name"] == "GIST"
    r = app_client.post("/api/v1/organizations", headers=h, json={
        "name": "gist-lab", "display_name": "dup", "kind": "university"})
    assert r.status_code == 409
    assert app_client.delete(f"/api/v1/organizations/{org['id']}", headers=h).status_code == 204
    assert app_client.get(f"/api/v1/organizations/{org['id']}", headers=h).status_code == 404
    # an organization with projects cannot be deleted
    r = app_client.delete(f"/api/v1/organizations/{world.a.org_id}", headers=h)
    assert r.status_code == 409 and "projects" in r.json()["detail"]


def test_cursor_pagination_visits_every_item_once(app_client: TestClient, world: World) -> None:
    h = H(world.admin_token)
    for i in range(7):
        assert app_client.post("/api/v1/organizations", headers=h, json={
            "name": f"org-page-{i}", "display_name": f"P{i}", "kind": "company"}).status_code == 201
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, object] = {"limit": 3, "name": "org-page"}
        if cursor:
            params["cursor"] = cursor
        body = app_client.get("/api/v1/organizations", headers=h, params=params).json()
        seen += [o["name"] for o in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == [f"org-page-{i}" for i in range(7)] and pages == 3
    r = app_client.get("/api/v1/organizations", headers=h, params={"kind": "hospital"})
    assert [o["name"] for o in r.json()["items"]] == ["org-b"]
    r = app_client.get("/api/v1/organizations", headers=h, params={"cursor": "bm9wZQ"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.cursor"


def test_allocation_grant_amend_and_state(app_client: TestClient, world: World) -> None:
    h = H(world.admin_token)
    r = app_client.post("/api/v1/allocations", headers=h, json={
        "project_id": world.a.project_id, "name": "2027 startup track", "budget_su": 5000,
        "starts_at": "2030-01-01T00:00:00+09:00", "ends_at": "2030-12-31T00:00:00+09:00",
        "quotas": {"h100": {"nominal": 8, "borrowing_limit": 4}}, "weight": 2})
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["state"] == "upcoming" and a["remaining_su"] == 5000 and a["quotas"]["h100"]["borrowing_limit"] == 4
    assert a["starts_at"].startswith("2029-12-31T15:00:00")  # stored and returned in UTC
    r = app_client.patch(f"/api/v1/allocations/{a['id']}", headers=h, json={
        "version": a["version"], "budget_su": 6000, "suspended": True, "quotas": {"a100": {"nominal": 2}}})
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["state"] == "suspended" and b["budget_su"] == 6000 and set(b["quotas"]) == {"a100"}
    r = app_client.get("/api/v1/allocations", headers=H(world.a.member_token), params={"state": "suspended"})
    assert [x["id"] for x in r.json()["items"]] == [a["id"]]
    events = app_client.get("/api/v1/audit", headers=h, params={"action": "allocation.amend"}).json()
    assert events[-1]["target_id"] == str(a["id"]) and events[-1]["data"]["budget_su"] == 6000


def test_project_members_must_belong_to_the_organization(app_client: TestClient, world: World) -> None:
    h = H(world.a.admin_token)
    r = app_client.post(f"/api/v1/projects/{world.a.project_id}/members", headers=h, json={"username": "b-member"})
    assert r.status_code == 422 and "not a member" in r.json()["detail"]
    r = app_client.post(f"/api/v1/projects/{world.a.project_id}/members", headers=h, json={"username": "a-admin"})
    assert r.status_code == 201
    names = [u["username"] for u in app_client.get(
        f"/api/v1/projects/{world.a.project_id}/members", headers=h).json()]
    assert names == ["a-admin", "a-member"]


def test_org_admin_adds_member_who_then_sees_the_org(app_client: TestClient, world: World) -> None:
    admin = H(world.admin_token)
    r = app_client.post("/api/v1/users", headers=admin, json={"username": "newbie", "display_name": "New"})
    assert r.status_code == 201
    token = app_client.post("/api/v1/tokens", headers=admin, json={"name": "t", "user_id": r.json()["id"]})
    newbie = H(token.json()["token"])
    assert app_client.get(f"/api/v1/organizations/{world.a.org_id}", headers=newbie).status_code == 404
    r = app_client.post(f"/api/v1/organizations/{world.a.org_id}/invitations", headers=H(world.a.admin_token),
                        json={"username": "newbie", "role": "member"})
    assert r.status_code == 201  # joining needs the user's consent
    assert app_client.get(f"/api/v1/organizations/{world.a.org_id}", headers=newbie).status_code == 404
    assert app_client.post(f"/api/v1/invitations/{r.json()['id']}/accept", headers=newbie).status_code == 200
    assert app_client.get(f"/api/v1/organizations/{world.a.org_id}", headers=newbie).status_code == 200
    r = app_client.post(f"/api/v1/organizations/{world.a.org_id}/members", headers=H(world.a.admin_token),
                        json={"username": "newbie", "role": "data_custodian"})
    assert r.status_code == 422  # only the center appoints custodians
    r = app_client.post(f"/api/v1/organizations/{world.a.org_id}/members", headers=H(world.a.admin_token),
                        json={"username": "newbie", "role": "org_admin"})
    assert r.status_code == 201  # an org admin changes the role of someone already a member


def test_inventory_reload_is_all_or_nothing(app_client: TestClient, world: World) -> None:
    h = H(world.admin_token)
    before = app_client.get("/api/v1/nodes", headers=h).json()
    broken = "[site]\nname = \"test-site\"\n[[flavors]]\nname = \"h100\"\nvendor = \"nvidia\"\nsu_rate = 2.0\n" \
             "[[nodes]]\nname = \"n1\"\nflavor = \"h100\"\naccelerators = 8\ncpus = 0\nmemory_gb = 10\n"
    r = app_client.post("/api/v1/inventory", headers=h, json={"toml": broken, "source": "center.toml"})
    assert r.status_code == 422
    body = r.json()
    assert body["detail"] == "center.toml:11: nodes[0].cpus: must be at least 1"
    assert body["errors"][0] == {"source": "center.toml", "line": 11, "field": "nodes[0].cpus",
                                 "message": "must be at least 1"}
    assert app_client.get("/api/v1/nodes", headers=h).json() == before
    smaller = broken.replace("cpus = 0", "cpus = 8")
    r = app_client.post("/api/v1/inventory", headers=h, json={"toml": smaller, "source": "center.toml"})
    assert r.status_code == 200 and r.json()["retired_nodes"] == 4
    assert [n["name"] for n in app_client.get("/api/v1/nodes", headers=h).json()] == ["n1"]
    flavors = {f["name"]: f["retired"] for f in app_client.get(
        "/api/v1/flavors", headers=h, params={"include_retired": True}).json()}
    assert flavors == {"a100": True, "cpu": True, "h100": False}


def test_health_readiness_and_metrics(app_client: TestClient, world: World) -> None:
    assert app_client.get("/healthz").json() == {"status": "ok"}
    assert app_client.get("/readyz").status_code == 200
    app_client.get("/api/v1/users/me", headers=H(world.admin_token))
    text = app_client.get("/metrics").text
    assert 'aicc_accelerators{flavor="h100"} 8.0' in text
    assert 'aicc_http_requests_total{method="GET",route="/api/v1/users/me",status="200"}' in text


def test_audit_chain_verifies_over_the_api(app_client: TestClient, world: World) -> None:
    r = app_client.get("/api/v1/audit/verify", headers=H(world.admin_token))
    assert r.status_code == 200
    body = r.json()
    assert body["intact"] and body["events"] > 10
    csv_text = app_client.get("/api/v1/audit/export.csv", headers=H(world.admin_token)).text
    assert csv_text.splitlines()[0].startswith("seq,at,actor,action")
    assert len(csv_text.splitlines()) == body["events"] + 1
