"""/api/v1/notifications: one's own preferences and webhooks; nobody else's; bad input is a 422 problem."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.world import World


def test_preferences_default_on_and_change_per_event(app_client: TestClient, world: World) -> None:
    me = World.auth(world.a.member_token)
    r = app_client.get("/api/v1/notifications/preferences", headers=me)
    assert r.status_code == 200
    body = r.json()
    assert body["lang"] == "ko" and body["events"]["job.failed"] == {"email": True, "webhook": True}
    r = app_client.put("/api/v1/notifications/preferences", headers=me,
                       json={"lang": "en", "events": {"budget.80": {"email": False, "webhook": True}}})
    assert r.status_code == 200, r.text
    assert r.json()["lang"] == "en" and r.json()["events"]["budget.80"] == {"email": False, "webhook": True}
    other = app_client.get("/api/v1/notifications/preferences", headers=World.auth(world.b.member_token)).json()
    assert other["lang"] == "ko" and other["events"]["budget.80"]["email"] is True


def test_webhooks_are_their_owners_alone(app_client: TestClient, world: World) -> None:
    a, b = World.auth(world.a.member_token), World.auth(world.b.member_token)
    r = app_client.post("/api/v1/notifications/webhooks", headers=a, json={"url": "https://hooks.example/aicc"})
    assert r.status_code == 201, r.text
    hook = r.json()
    assert hook["secret"].startswith("whsec_") and len(hook["secret"]) > 40
    listed = app_client.get("/api/v1/notifications/webhooks", headers=a).json()
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    assert app_client.get("/api/v1/notifications/webhooks", headers=b).json() == []
    assert app_client.get(f"/api/v1/notifications/webhooks/{hook['id']}/deliveries", headers=b).status_code == 404
    assert app_client.delete(f"/api/v1/notifications/webhooks/{hook['id']}", headers=b).status_code == 404
    assert app_client.get(f"/api/v1/notifications/webhooks/{hook['id']}/deliveries", headers=a).json() == []
    assert app_client.delete(f"/api/v1/notifications/webhooks/{hook['id']}", headers=a).status_code == 204


def test_bad_input_is_refused_with_a_problem(app_client: TestClient, world: World) -> None:
    a = World.auth(world.a.member_token)
    for body in ({"url": "ftp://files.example/x"}, {"url": "https://user:pw@hooks.example/x"}, {"url": "x" * 3000}):
        r = app_client.post("/api/v1/notifications/webhooks", headers=a, json=body)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), body
    r = app_client.put("/api/v1/notifications/preferences", headers=a, json={"events": {"job.started": {}}})
    assert r.status_code == 422
    assert app_client.get("/api/v1/notifications/preferences").status_code == 401
