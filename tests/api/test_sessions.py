"""/api/v1/sessions and /s/<id>/: a session is a job of kind session, seen and reached by its owner alone."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.world import World

auth = World.auth


def _start(client: TestClient, world: World, **body: object) -> dict[str, object]:
    r = client.post("/api/v1/sessions", json={"project_id": world.a.project_id, **body},
                    headers=auth(world.a.member_token))
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_a_session_is_a_job_of_kind_session_scheduled_like_any_job(app_client: TestClient, world: World) -> None:
    s = _start(app_client, world, kind="terminal", time_limit_s=7200)
    assert (s["kind"], s["phase"], s["url"]) == ("terminal", "pending", None)
    job = app_client.get(f"/api/v1/jobs/{s['id']}", headers=auth(world.a.member_token)).json()
    assert job["kind"] == "session" and job["state"] == "pending" and job["time_limit_s"] == 7200
    assert job["flavors"] == ["cpu"] and "JUPYTER_TOKEN" not in str(job)  # the server's token never leaves
    listed = app_client.get("/api/v1/jobs", params={"kind": "session"}, headers=auth(world.a.member_token)).json()
    assert [j["id"] for j in listed["items"]] == [s["id"]]
    mine = app_client.get("/api/v1/sessions", headers=auth(world.a.member_token)).json()
    assert [x["id"] for x in mine] == [s["id"]] and "token" not in mine[0]


def test_only_the_owner_sees_or_stops_a_session_everyone_else_gets_the_404_of_a_missing_one(
        app_client: TestClient, world: World) -> None:
    s = _start(app_client, world)
    missing = app_client.get("/api/v1/sessions/999999", headers=auth(world.a.member_token))
    assert missing.status_code == 404
    for token in (world.a.admin_token, world.b.member_token, world.admin_token, world.outsider_token):
        seen = app_client.get(f"/api/v1/sessions/{s['id']}", headers=auth(token))
        assert (seen.status_code, seen.json()["detail"]) == (404, missing.json()["detail"])
        assert app_client.delete(f"/api/v1/sessions/{s['id']}", headers=auth(token)).status_code == 404
        assert app_client.get("/api/v1/sessions", headers=auth(token)).json() == []
    assert app_client.delete(f"/api/v1/sessions/{s['id']}", headers=auth(world.a.member_token)).status_code == 204
    ended = app_client.get(f"/api/v1/sessions/{s['id']}", headers=auth(world.a.member_token)).json()
    assert (ended["phase"], ended["state"]) == ("ended", "cancelled")


def test_the_proxy_answers_strangers_and_missing_sessions_alike(app_client: TestClient, world: World) -> None:
    s = _start(app_client, world)
    bodies = set()
    for cookie, sid in ((world.b.member_token, s["id"]), (world.admin_token, s["id"]),
                        (world.b.member_token, 999999), (world.a.member_token, s["id"])):  # owner: not running yet
        for path in ("lab", "api/kernels"):
            r = app_client.get(f"/s/{sid}/{path}", cookies={"aicc_session": str(cookie)}, follow_redirects=False)
            assert r.status_code == 404
            bodies.add(r.text.replace(str(sid), "ID"))
        post = app_client.post(f"/s/{sid}/api/kernels", cookies={"aicc_session": str(cookie)}, json={})
        assert post.status_code == 404
    assert len(bodies) == 1
    anonymous = app_client.get(f"/s/{s['id']}/lab", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/signin?next=")


def test_bad_session_requests_are_refused_with_the_field_named(app_client: TestClient, world: World) -> None:
    h = auth(world.a.member_token)
    cases = [({"kind": "vnc"}, "kind"), ({"idle_limit_s": -1}, "idle_limit_s"), ({"time_limit_s": 10}, "time_limit_s"),
             ({"accelerators": 1, "flavors": ["cpu"]}, None), ({"flavors": ["tpu"], "accelerators": 1}, None)]
    for body, field in cases:
        r = app_client.post("/api/v1/sessions", json={"project_id": world.a.project_id, **body}, headers=h)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        if field:
            assert field in r.json()["detail"]
    other = app_client.post("/api/v1/sessions", json={"project_id": world.b.project_id}, headers=h)
    assert other.status_code == 404
