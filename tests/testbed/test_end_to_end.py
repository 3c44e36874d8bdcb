"""The loop closed: a real benchmark job on the CPU flavor, its result ingested, the matrix placing jobs."""

from __future__ import annotations

import datetime as dt

import pytest

from aicc.core.allocations import FlavorQuota
from aicc.services import allocations, projects
from aicc.services.principal import SYSTEM
from aicc.store.models import utcnow
from tests.testbed.conftest import Harness
from tests.testbed.test_results_api import document
from tests.world import World

H = World.auth


def test_benchmark_job_runs_for_real_and_its_result_lands_in_the_matrix(harness: Harness) -> None:
    pytest.importorskip("mlperf_loadgen")
    pytest.importorskip("rapidocr_onnxruntime")
    w = harness.world
    member = H(w.a.member_token)
    r = harness.client.post("/api/v1/bench/runs", headers=member,
                            json={"project": "proj-a", "flavor": "cpu", "workload": "ocr-cls", "cpus": 2,
                                  "scenarios": ["Offline"], "duration_ms": 300})
    job_id = r.json()["job_id"]
    job = harness.until_state(job_id, "succeeded", "failed", timeout=60)
    logs = [harness.client.get(f"/api/v1/jobs/{job_id}/logs?stream={x}", headers=member).json()["data"]
            for x in ("stdout", "stderr")]
    assert job["state"] == "succeeded", logs
    stored = harness.client.get("/api/v1/bench/results", headers=member).json()  # the controller ingested it
    (row,) = harness.client.post("/api/v1/bench/results/ingest", headers=member, json={"job_id": job_id}).json()
    assert [r["id"] for r in stored] == [row["id"]]
    assert row["valid"] and row["flavor"] == "cpu" and row["units"] == 2 and row["samples_per_s"] > 0
    assert row["workload_class"] == "ocr-orientation" and row["accuracy"] == 1.0 and row["aicc_commit"]
    full = harness.client.get(f"/api/v1/bench/results/{row['id']}", headers=member).json()["document"]
    assert full["provenance"]["job_id"] == str(job_id) and full["provenance"]["flavor"] == "cpu"
    m = harness.client.get("/api/v1/bench/matrix", headers=member).json()["matrix"]
    assert m["ocr-orientation"]["cpu"] == pytest.approx(row["samples_per_s"] / 2)


def test_matrix_places_against_cheapest_first_and_job_show_says_why(harness: Harness) -> None:
    w = harness.world
    with harness.db.write() as s:  # a project that may use both GPU flavors, with a default workload class
        p = projects.create(s, SYSTEM, organization_id=w.a.org_id, name="proj-ocr", title="OCR", description="")
        projects.add_member(s, SYSTEM, p.id, username="a-member")
        p.workload_class = "ocr-inference"
        now = utcnow()
        allocations.create(s, SYSTEM, project_id=p.id, name="ocr grant", budget_su=1000,
                           starts_at=now - dt.timedelta(days=1), ends_at=now + dt.timedelta(days=30),
                           quotas={"h100": FlavorQuota(4, 0), "a100": FlavorQuota(4, 0)})
    from aicc.services import tokens

    tokens.invalidate_cache()
    admin = H(w.admin_token)
    # h100: 4x the samples/s of a100 at 2x the rate -> 2x the samples per SU; cheapest-first would pick a100.
    for doc in (document("h100", 2000.0), document("a100", 500.0, tag="a")):
        assert harness.client.post("/api/v1/bench/results", headers=admin, json=doc).status_code == 201
    explicit = harness.submit(w.a.member_token, project="proj-ocr", accelerators=1, flavors=["a100", "h100"],
                              workload_class="ocr-inference", command=["true"])
    inherited = harness.submit(w.a.member_token, project="proj-ocr", accelerators=1, flavors=["a100", "h100"],
                               command=["true"])
    unmeasured = harness.submit(w.a.member_token, project="proj-ocr", accelerators=1, flavors=["a100", "h100"],
                                workload_class="llm-training", command=["true"])
    harness.controller.cycle()
    want = "h100: 2.0× the samples/SU of a100 for class ocr-inference"
    for job_id in (explicit, inherited):
        job = harness.job(job_id)
        assert job["flavor"] == "h100" and want in job["reason"]
        why = harness.client.get(f"/api/v1/bench/explain/{job_id}", headers=H(w.a.member_token)).json()
        assert why["explanation"] == want and why["workload_class"] == "ocr-inference"
    assert harness.job(unmeasured)["flavor"] == "a100"  # nothing measured: cheapest first, as before
    why = harness.client.get(f"/api/v1/bench/explain/{unmeasured}", headers=H(w.a.member_token)).json()
    assert "no valid benchmark of class llm-training" in why["explanation"]
    harness.until(lambda: all(harness.job(j)["state"] == "succeeded" for j in (explicit, inherited, unmeasured)))
