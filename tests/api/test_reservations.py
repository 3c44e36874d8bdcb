"""/api/v1/reservations: class hours held for a course or project; overlaps on the same capacity refused with the
clash named; center admins only; audited."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.world import World

auth = World.auth
TUESDAYS = {"flavor": "h100", "first_start": "2027-03-02T14:00", "timezone": "Asia/Seoul", "length_min": 180,
            "count": 8, "every_days": 7}


def test_an_admin_reserves_eight_tuesdays_and_they_are_listed_in_utc(app_client: TestClient, world: World) -> None:
    r = app_client.post("/api/v1/reservations", json={"name": "ai-101-lab", "units": 4,
                                                      "project_id": world.a.project_id, **TUESDAYS},
                        headers=auth(world.admin_token))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["starts_at"].startswith("2027-03-02T05:00")  # 14:00 in Seoul (UTC+9)
    assert body["ends_at"].startswith("2027-04-20T08:00")  # the eighth Tuesday, 17:00 in Seoul
    assert body["project"] == world.a.project_name and body["next_start"] is not None
    mine = app_client.get("/api/v1/reservations", headers=auth(world.a.member_token)).json()
    assert [x["name"] for x in mine] == ["ai-101-lab"]
    assert app_client.get("/api/v1/reservations", headers=auth(world.b.member_token)).json() == []
    audit = app_client.get("/api/v1/audit", params={"action": "reservation.create"},
                           headers=auth(world.admin_token))
    assert audit.status_code == 200 and "reservation.create" in audit.text


def test_an_overlap_on_the_same_capacity_is_refused_with_the_conflict_named(app_client: TestClient,
                                                                            world: World) -> None:
    first = app_client.post("/api/v1/reservations", json={"name": "ai-101-lab", "units": 6,
                                                          "project_id": world.a.project_id, **TUESDAYS},
                            headers=auth(world.admin_token))
    assert first.status_code == 201, first.text
    clash = {**TUESDAYS, "first_start": "2027-03-23T16:00", "count": 1, "length_min": 120}  # the fourth Tuesday
    r = app_client.post("/api/v1/reservations", json={"name": "ml-202", "units": 4, "project_id": world.b.project_id,
                                                      **clash}, headers=auth(world.admin_token))
    assert r.status_code == 409
    detail = r.json()["detail"]
    assert "ai-101-lab" in detail and "2027-03-23 07:00 UTC" in detail and "6 of 8" in detail
    fits = app_client.post("/api/v1/reservations", json={"name": "ml-202", "units": 2,
                                                         "project_id": world.b.project_id, **clash},
                           headers=auth(world.admin_token))
    assert fits.status_code == 201, fits.text  # 6 + 2 of 8: the same flavor still has room
    later = app_client.post("/api/v1/reservations", json={"name": "ml-203", "units": 8,
                                                          "project_id": world.b.project_id,
                                                          **{**clash, "first_start": "2027-03-23T18:00"}},
                            headers=auth(world.admin_token))
    assert later.status_code == 201, later.text  # back to back with both: no overlap


def test_only_center_admins_reserve_and_bad_input_is_a_422(app_client: TestClient, world: World) -> None:
    body = {"name": "x", "units": 1, "project_id": world.a.project_id, **TUESDAYS}
    assert app_client.post("/api/v1/reservations", json=body, headers=auth(world.a.member_token)).status_code == 403
    for bad in ({"timezone": "Mars/Olympus"}, {"units": 0}, {"count": 10_000}, {"flavor": "nope"},
                {"first_start": "2027-03-02T14:00+09:00"}, {"course_id": 1}, {"project_id": None},
                {"units": 9}):
        r = app_client.post("/api/v1/reservations", json={**body, **bad}, headers=auth(world.admin_token))
        assert r.status_code in (404, 409, 422), (bad, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


def test_a_removed_reservation_frees_its_hours(app_client: TestClient, world: World) -> None:
    r = app_client.post("/api/v1/reservations", json={"name": "ai-101-lab", "units": 8,
                                                      "project_id": world.a.project_id, **TUESDAYS},
                        headers=auth(world.admin_token))
    rid = r.json()["id"]
    assert app_client.delete(f"/api/v1/reservations/{rid}", headers=auth(world.a.member_token)).status_code == 403
    assert app_client.delete(f"/api/v1/reservations/{rid}", headers=auth(world.admin_token)).status_code == 204
    again = app_client.post("/api/v1/reservations", json={"name": "ml-202", "units": 8,
                                                          "project_id": world.b.project_id, **TUESDAYS},
                            headers=auth(world.admin_token))
    assert again.status_code == 201, again.text
