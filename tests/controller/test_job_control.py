"""Hold, release, requeue and update of a job (``aicc hold`` …) through the API and the live controller: a held
job is never admitted and says who holds it; only a pending job changes; requeue runs a job again as a new
attempt; each is refused across tenants and audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from aicc.store.models import AuditEventRow
from tests.controller.conftest import Harness
from tests.world import World


def _post(h: Harness, token: str, job_id: int, verb: str) -> Any:
    return h.client.post(f"/api/v1/jobs/{job_id}/{verb}", headers=World.auth(token))


def _actions(h: Harness, job_id: int) -> list[str]:
    with h.db.read() as s:
        return list(s.execute(select(AuditEventRow.action).where(AuditEventRow.target_type == "job",
                                                                AuditEventRow.target_id == str(job_id))
                              .order_by(AuditEventRow.seq)).scalars())


def test_a_held_job_is_never_admitted_and_says_who_holds_it_until_released(harness: Harness) -> None:
    h, token = harness, harness.world.a.member_token
    job_id = h.submit(token, flavors=["cpu"], command=["true"])
    held = _post(h, token, job_id, "hold")
    assert held.status_code == 200, held.text
    assert held.json()["held_by"] and held.json()["reason_code"] == "held_by"
    assert held.json()["reason"].startswith(f"held by {held.json()['held_by']}")
    for _ in range(3):
        h.controller.cycle()
    job = h.job(job_id)
    assert job["state"] == "pending" and job["reason_code"] == "held_by" and job["admitted_at"] is None
    again = _post(h, token, job_id, "hold")
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    assert _post(h, token, job_id, "release").status_code == 200
    done = h.until_state(job_id, "succeeded")
    assert done["held_by"] is None and done["attempt"] == 0
    assert _post(h, token, job_id, "release").status_code == 409  # a finished job is not held
    actions = _actions(h, job_id)
    assert actions[:3] == ["job.submit", "job.hold", "job.release"] and actions[-1] == "job.succeeded"


def test_another_tenant_can_neither_see_nor_control_a_job(harness: Harness) -> None:
    h = harness
    job_id = h.submit(h.world.a.member_token, flavors=["cpu"], command=["true"])
    other = h.world.b.member_token
    for verb in ("hold", "release", "requeue"):
        assert _post(h, other, job_id, verb).status_code == 404
    r = h.client.patch(f"/api/v1/jobs/{job_id}", headers=World.auth(other), json={"priority": 5})
    assert r.status_code == 404
    # the project's organization admin may, as for cancel
    assert _post(h, h.world.a.admin_token, job_id, "hold").status_code == 200


def test_update_changes_a_pending_job_checked_as_at_submit_and_never_a_started_one(harness: Harness) -> None:
    h, token = harness, harness.world.a.member_token
    job_id = h.submit(token, flavors=["cpu"], command=["sleep", "30"])
    assert _post(h, token, job_id, "hold").status_code == 200

    def patch(body: dict[str, Any]) -> Any:
        return h.client.patch(f"/api/v1/jobs/{job_id}", headers=World.auth(token), json=body)

    assert patch({}).status_code == 422
    assert patch({"time_limit_s": 0}).status_code == 422
    assert patch({"state": "running"}).status_code == 422  # not a field that may change
    unknown = patch({"flavors": ["nope"]})
    assert unknown.status_code == 422 and "unknown flavor nope" in unknown.json()["detail"]
    cpu_gpus = patch({"accelerators": 2})
    assert cpu_gpus.status_code == 422 and "CPU flavor" in cpu_gpus.json()["detail"]
    ok = patch({"time_limit_s": 120, "priority": 7, "cpus": 2, "name": "renamed"})
    assert ok.status_code == 200, ok.text
    assert (ok.json()["time_limit_s"], ok.json()["priority"], ok.json()["cpus"], ok.json()["name"]) == \
        (120, 7, 2, "renamed")
    assert ok.json()["held_by"] is not None  # an update does not release it
    assert _post(h, token, job_id, "release").status_code == 200
    h.until_state(job_id, "running")
    late = patch({"priority": 1})
    assert late.status_code == 409 and "running job cannot update" in late.json()["detail"]
    assert "job.update" in _actions(h, job_id)
    h.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=World.auth(token))
    h.until_state(job_id, "cancelled")


def test_requeue_runs_an_ended_job_again_as_a_new_attempt(harness: Harness) -> None:
    h, token = harness, harness.world.a.member_token
    job_id = h.submit(token, flavors=["cpu"], command=["sh", "-c", "exit 3"])
    first = h.until_state(job_id, "failed")
    assert first["exit_code"] == 3
    assert _post(h, token, job_id, "hold").status_code == 409  # only a pending job is held
    again = _post(h, token, job_id, "requeue")
    assert again.status_code == 200, again.text
    queued = again.json()
    assert queued["state"] == "pending" and queued["attempt"] == 1 and queued["exit_code"] is None
    assert queued["reason_code"] == "requeued_by" and queued["ended_at"] is None
    assert _post(h, token, job_id, "requeue").status_code == 409  # a pending job is queued already
    second = h.until_state(job_id, "failed")
    assert second["attempt"] == 1 and second["exit_code"] == 3
    assert _actions(h, job_id).count("job.requeue") == 1


def test_requeue_of_a_running_job_stops_it_and_runs_it_again(harness: Harness) -> None:
    h, token = harness, harness.world.a.member_token
    job_id = h.submit(token, flavors=["cpu"], command=["sleep", "60"])
    h.until_state(job_id, "running")
    asked = _post(h, token, job_id, "requeue")
    assert asked.status_code == 200 and asked.json()["reason_code"] == "requeue_requested_by"
    assert _post(h, token, job_id, "requeue").status_code == 409  # already being stopped
    h.until(lambda: h.job(job_id)["attempt"] == 1)
    job = h.job(job_id)
    assert job["reason_code"] in ("requeued_by", "starting", "running") and job["state"] != "failed"
    h.until_state(job_id, "running")
    h.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=World.auth(token))
    h.until_state(job_id, "cancelled")
