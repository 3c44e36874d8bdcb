"""/api/v1/courses: rosters imported all or nothing, instructors who see and stop their students' sessions,
per-student limits on sessions."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.world import World

auth = World.auth
ROSTER = "name,email,student_number\n김민지,minji@school.kr,2027001\nLee Jun,jun.lee@school.kr,2027002\n"


def _course(client: TestClient, world: World, **extra: object) -> int:
    r = client.post("/api/v1/courses", json={"name": "ai-101", "title": "AI 기초", "project_id": world.a.project_id,
                                              "instructors": ["a-member"], **extra}, headers=auth(world.admin_token))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _token_of(client: TestClient, world: World, username: str) -> str:
    users = client.get("/api/v1/users", params={"limit": 200}, headers=auth(world.admin_token)).json()["items"]
    uid = next(u["id"] for u in users if u["username"] == username)
    r = client.post("/api/v1/tokens", json={"user_id": uid, "name": "t", "ttl_days": 1},
                    headers=auth(world.admin_token))
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def test_a_roster_with_bad_lines_imports_nothing_and_names_each_line(app_client: TestClient, world: World) -> None:
    cid = _course(app_client, world)
    bad = ROSTER + "No Mail,not-an-email,2027003\nDup,minji@school.kr,2027004\nShort,x@y.kr\nOk,ok@school.kr,2027001\n"
    r = app_client.post(f"/api/v1/courses/{cid}/roster", json={"csv": bad}, headers=auth(world.admin_token))
    assert r.status_code == 422
    assert [e["line"] for e in r.json()["errors"]] == [4, 5, 6, 7]
    assert "repeats line 2" in r.json()["errors"][1]["message"]
    roster = app_client.get(f"/api/v1/courses/{cid}/roster", headers=auth(world.admin_token)).json()
    assert [m["role"] for m in roster] == ["instructor"]  # nothing half-imported
    ok = app_client.post(f"/api/v1/courses/{cid}/roster", json={"csv": ROSTER}, headers=auth(world.admin_token))
    assert ok.status_code == 200 and ok.json() == {"created": 2, "linked": 0}
    again = app_client.post(f"/api/v1/courses/{cid}/roster", json={"csv": ROSTER}, headers=auth(world.admin_token))
    assert again.json() == {"created": 0, "linked": 2}  # linked by email, not duplicated
    roster = app_client.get(f"/api/v1/courses/{cid}/roster", headers=auth(world.a.member_token)).json()
    assert sorted((m["username"], m["role"], m["student_number"]) for m in roster) == [
        ("a-member", "instructor", None), ("jun.lee", "student", "2027002"), ("minji", "student", "2027001")]
    assert app_client.get(f"/api/v1/courses/{cid}/roster", headers=auth(world.b.member_token)).status_code == 404


def test_instructor_sees_and_stops_a_students_session_and_limits_hold(app_client: TestClient, world: World) -> None:
    cid = _course(app_client, world, max_sessions=1)
    app_client.post(f"/api/v1/courses/{cid}/roster", json={"csv": ROSTER}, headers=auth(world.admin_token))
    minji, jun = _token_of(app_client, world, "minji"), _token_of(app_client, world, "jun.lee")
    first = app_client.post("/api/v1/sessions", json={"project_id": world.a.project_id}, headers=auth(minji))
    assert first.status_code == 201, first.text
    second = app_client.post("/api/v1/sessions", json={"project_id": world.a.project_id}, headers=auth(minji))
    assert second.status_code == 409 and "at most 1 session" in second.json()["detail"]
    sid = first.json()["id"]
    seen = app_client.get(f"/api/v1/courses/{cid}/sessions", headers=auth(world.a.member_token)).json()
    assert [x["id"] for x in seen] == [sid]
    assert app_client.get(f"/api/v1/courses/{cid}/sessions", headers=auth(jun)).status_code == 404
    assert app_client.get(f"/api/v1/sessions/{sid}", headers=auth(jun)).status_code == 404  # a classmate
    assert app_client.get(f"/api/v1/sessions/{sid}", headers=auth(world.a.member_token)).status_code == 200
    assert app_client.delete(f"/api/v1/sessions/{sid}", headers=auth(world.a.member_token)).status_code == 204
    ended = app_client.get(f"/api/v1/sessions/{sid}", headers=auth(minji)).json()
    assert ended["state"] == "cancelled" and "a-member" in ended["reason"]
    again = app_client.post("/api/v1/sessions", json={"project_id": world.a.project_id}, headers=auth(minji))
    assert again.status_code == 201


def test_accelerator_hours_per_day_cap_a_students_sessions(app_client: TestClient, world: World) -> None:
    cid = _course(app_client, world, max_sessions=4, accelerator_hours_per_day=3)
    app_client.post(f"/api/v1/courses/{cid}/roster", json={"csv": ROSTER}, headers=auth(world.admin_token))
    minji = _token_of(app_client, world, "minji")
    body = {"project_id": world.a.project_id, "accelerators": 1, "flavors": ["h100"], "time_limit_s": 7200}
    assert app_client.post("/api/v1/sessions", json=body, headers=auth(minji)).status_code == 201
    over = app_client.post("/api/v1/sessions", json=body, headers=auth(minji))
    assert over.status_code == 409 and "3 accelerator-hours a day" in over.json()["detail"]


def test_only_center_admins_create_courses_or_import_rosters(app_client: TestClient, world: World) -> None:
    r = app_client.post("/api/v1/courses", json={"name": "x", "title": "x", "project_id": world.a.project_id},
                        headers=auth(world.a.admin_token))
    assert r.status_code == 403
    cid = _course(app_client, world)
    r = app_client.post(f"/api/v1/courses/{cid}/roster", json={"csv": ROSTER}, headers=auth(world.a.member_token))
    assert r.status_code == 403


def test_instructors_hand_out_materials_students_read_them_and_nobody_else_sees_them(
        app_client: TestClient, world: World) -> None:
    cid = _course(app_client, world)
    app_client.post(f"/api/v1/courses/{cid}/roster", json={"csv": ROSTER}, headers=auth(world.admin_token))
    minji = _token_of(app_client, world, "minji")
    put = app_client.put(f"/api/v1/courses/{cid}/materials/week1.ipynb", content=b'{"cells": []}',
                         headers=auth(world.a.member_token))  # a-member is the instructor
    assert put.status_code == 201 and put.json() == {"name": "week1.ipynb", "size": 13}
    assert app_client.get(f"/api/v1/courses/{cid}/materials", headers=auth(minji)).json() == [
        {"name": "week1.ipynb", "size": 13}]
    assert app_client.put(f"/api/v1/courses/{cid}/materials/x.txt", content=b"mine",
                          headers=auth(minji)).status_code == 404  # a student may not change them
    assert app_client.get(f"/api/v1/courses/{cid}/materials", headers=auth(world.b.member_token)).status_code == 404
    for bad in (".hidden", "..", "a\\b", "가" * 100):  # (the last: 300 bytes, past a file name's 255)
        r = app_client.put(f"/api/v1/courses/{cid}/materials/{bad}", content=b"x", headers=auth(world.admin_token))
        assert r.status_code in (404, 422), bad
    assert app_client.put(f"/api/v1/courses/{cid}/materials/..%2Fescape", content=b"x",
                          headers=auth(world.admin_token)).status_code in (404, 422)
    gone = app_client.delete(f"/api/v1/courses/{cid}/materials/week1.ipynb", headers=auth(world.a.member_token))
    assert gone.status_code == 204
    assert app_client.get(f"/api/v1/courses/{cid}/materials", headers=auth(minji)).json() == []
