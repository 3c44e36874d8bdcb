"""Submission: accepted at once when it could ever run, refused with a clear reason when not."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.world import World

H = World.auth


def submit(client: TestClient, token: str, **body: Any) -> Any:
    body.setdefault("project", "proj-a")
    if "script" not in body:
        body.setdefault("command", ["python", "-c", "print(1)"])
    return client.post("/api/v1/jobs", headers=H(token), json=body)


def test_submit_returns_the_id_and_the_job_waits_pending(app_client: TestClient, world: World) -> None:
    r = submit(app_client, world.a.member_token, accelerators=2, flavors=["h100"], time_limit_s=600)
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    job = app_client.get(f"/api/v1/jobs/{job_id}", headers=H(world.a.member_token)).json()
    assert job["state"] == "pending" and job["flavors"] == ["h100"] and job["accelerators"] == 2
    assert job["name"] == "python" and job["reason"] and job["kind"] == "job"
    listed = app_client.get("/api/v1/jobs", params={"kind": "job"}, headers=H(world.a.member_token)).json()
    assert job_id in [j["id"] for j in listed["items"]]
    none = app_client.get("/api/v1/jobs", params={"kind": "session"}, headers=H(world.a.member_token)).json()
    assert none["items"] == []
    bad = app_client.get("/api/v1/jobs", params={"kind": "daemon"}, headers=H(world.a.member_token))
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")


def test_arrays_and_dependencies(app_client: TestClient, world: World) -> None:
    first = submit(app_client, world.a.member_token, cpus=1).json()["id"]
    r = submit(app_client, world.a.member_token, array="0-9%2", depends_on=[first])
    assert r.status_code == 201
    body = r.json()
    assert body["array_id"] == body["ids"][0] and len(body["ids"]) == 10
    tasks = app_client.get("/api/v1/jobs", headers=H(world.a.member_token),
                           params={"array_id": body["array_id"], "limit": 100}).json()["items"]
    assert [t["array_index"] for t in tasks] == list(range(10))
    assert all(t["depends_on"] == [first] for t in tasks)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"accelerators": 64, "flavors": ["h100"]}, "no flavor of this center could ever run this job"),
        ({"accelerators": 1, "flavors": ["tpu"]}, "unknown flavor tpu"),
        ({"accelerators": 2, "flavors": ["cpu"]}, "CPU flavor"),
        ({"cpus": 64, "flavors": ["cpu"]}, "no cpu node has 64 CPUs"),
        ({"time_limit_s": 30 * 86400}, "time limit must be between"),
        ({"env": {"CUDA_VISIBLE_DEVICES": "0"}}, "set by AICC"),
        ({"env": {"AICC_JOB_ID": "7"}}, "set by AICC"),
        ({"env": {f"V{i}": "x" * 30_000 for i in range(3)}}, "bytes; at most"),
        ({"array": "0-20000"}, "at most 10000 tasks"),
        ({"depends_on": [999999]}, "job 999999 not found"),
    ],
)
def test_impossible_requests_are_refused_at_submit(
    app_client: TestClient, world: World, body: dict[str, Any], message: str
) -> None:
    before = app_client.get("/api/v1/jobs", headers=H(world.admin_token), params={"limit": 500}).json()["items"]
    r = submit(app_client, world.a.member_token, **body)
    assert r.status_code == 422, r.text
    assert message in r.json()["detail"]
    after = app_client.get("/api/v1/jobs", headers=H(world.admin_token), params={"limit": 500}).json()["items"]
    assert after == before


@pytest.mark.parametrize(
    "body",
    [
        {"accelerators": 0, "cpus": 0},
        {"accelerators": -1},
        {"memory_mb": 0},
        {"name": "../../etc/passwd"},
        {"command": ["x"], "script": "echo hi"},
        {"command": []},
        {"command": ["a\u0000b"]},
        {"priority": 1000},
        {"colour": "red"},
    ],
)
def test_malformed_submissions_get_422(app_client: TestClient, world: World, body: dict[str, Any]) -> None:
    r = submit(app_client, world.a.member_token, **body)
    assert r.status_code == 422, r.text


def test_no_submitting_into_or_depending_on_another_tenant(app_client: TestClient, world: World) -> None:
    b_job = submit(app_client, world.b.member_token, project="proj-b").json()["id"]
    r = submit(app_client, world.a.member_token, project="proj-b")
    assert r.status_code == 404
    r = submit(app_client, world.a.member_token, depends_on=[b_job])
    assert r.status_code == 422 and f"job {b_job} not found" in r.json()["detail"]
    for method, url in [("GET", f"/api/v1/jobs/{b_job}"), ("POST", f"/api/v1/jobs/{b_job}/cancel"),
                        ("GET", f"/api/v1/jobs/{b_job}/logs")]:
        assert app_client.request(method, url, headers=H(world.a.admin_token)).status_code == 404
    listed = app_client.get("/api/v1/jobs", headers=H(world.a.admin_token)).json()["items"]
    assert b_job not in [j["id"] for j in listed]
    assert app_client.get(f"/api/v1/jobs/{b_job}", headers=H(world.b.admin_token)).status_code == 200


def test_cancel_pending_job_and_whole_array(app_client: TestClient, world: World) -> None:
    job = submit(app_client, world.a.member_token).json()["id"]
    r = app_client.post(f"/api/v1/jobs/{job}/cancel", headers=H(world.a.member_token))
    assert r.status_code == 200 and r.json()[0]["state"] == "cancelled"
    arr = submit(app_client, world.a.member_token, array="0-4").json()
    r = app_client.post(f"/api/v1/jobs/{arr['ids'][2]}/cancel", headers=H(world.a.admin_token),
                        params={"array": True})
    assert sorted(j["id"] for j in r.json()) == arr["ids"]
    # another member of the same project may not cancel someone else's job
    r = app_client.post(f"/api/v1/jobs/{job}/cancel", headers=H(world.b.member_token))
    assert r.status_code == 404


def test_project_without_allocation_cannot_submit(app_client: TestClient, world: World) -> None:
    h = H(world.a.admin_token)
    r = app_client.post("/api/v1/projects", headers=h, json={"organization_id": world.a.org_id, "name": "empty",
                                                             "title": "No grant"})
    assert r.status_code == 201
    r = submit(app_client, world.a.admin_token, project="empty")
    assert r.status_code == 422 and "no current or upcoming allocation" in r.json()["detail"]
