"""Results through the API: ingest (jobs and files), list, matrix, explanations; invalid kept, never ranked."""

from __future__ import annotations

import copy
import json
import sys
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from aicc.config import Settings
from aicc.services import jobs as jobs_svc
from aicc.store.db import Database
from aicc.store.models import JobRow
from aicc.testbed import trust
from tests.world import World

H = World.auth


def document(flavor: str, samples_per_s: float, *, valid: bool = True, cls: str = "ocr-inference",
             scenario: str = "Offline", tag: str = "") -> dict[str, Any]:
    return {
        "schema": "aicc.testbed.result/1", "workload": "ocr-rec", "workload_class": cls, "flavor": flavor,
        "units": 1, "started_at": "2026-12-01T00:00:00+00:00", "corrupted_on_purpose": False,
        "accuracy": {"metric": "agreement", "value": 1.0 if valid else 0.2, "threshold": 0.95, "passed": valid},
        "provenance": {"device_model": f"{flavor} model", "driver": "1.0", "aicc_commit": "abc" + tag},
        "results": [{"scenario": scenario, "loadgen_valid": True, "errors": [], "metric": "samples_per_s",
                     "value": samples_per_s, "samples_per_s": samples_per_s,
                     "latency_ns": {"p50": 1e6, "p90": 2e6, "p99": 3e6},
                     "perf_accuracy": {"passed": valid},
                     "energy": {"j_per_sample": 0.5, "samples_per_s_per_w": 2.0, "label": "board"}}],
    }


def test_admin_ingests_files_matrix_ranks_only_valid_and_member_may_not(app_client: TestClient,
                                                                        world: World) -> None:
    admin = H(world.admin_token)
    for doc in (document("h100", 1000.0), document("a100", 1050.0, tag="x"),
                document("a100", 1e9, valid=False, tag="fast-but-wrong")):
        r = app_client.post("/api/v1/bench/results", headers=admin, json=doc)
        assert r.status_code == 201, r.text
    again = app_client.post("/api/v1/bench/results", headers=admin, json=document("h100", 1000.0))
    assert again.status_code == 201 and again.json()[0]["id"] == 1  # same file: same row
    forbidden = app_client.post("/api/v1/bench/results", headers=H(world.a.member_token), json=document("h100", 1.0))
    assert forbidden.status_code == 403

    results = app_client.get("/api/v1/bench/results", headers=H(world.a.member_token)).json()
    assert len(results) == 3
    wrong = next(r for r in results if not r["valid"])
    assert wrong["invalid_reasons"] == ["accuracy check failed"] and wrong["energy_j_per_sample"] == 0.5
    m = app_client.get("/api/v1/bench/matrix", headers=H(world.a.member_token)).json()
    assert m["matrix"] == {"ocr-inference": {"a100": 1050.0, "h100": 1000.0}}
    assert m["samples_per_su"]["ocr-inference"]["a100"] == 1050.0 * 3600  # a100's rate is 1.0
    full = app_client.get(f"/api/v1/bench/results/{wrong['id']}", headers=admin).json()
    assert full["document"]["provenance"]["aicc_commit"] == "abcfast-but-wrong"

    bad = copy.deepcopy(document("h100", 1.0))
    bad["schema"] = "something else"
    assert app_client.post("/api/v1/bench/results", headers=admin, json=bad).status_code == 422


def test_bench_run_is_an_ordinary_job_and_its_result_is_ingested_once(
        app_client: TestClient, world: World, settings: Settings, db: Database) -> None:
    member = H(world.a.member_token)
    r = app_client.post("/api/v1/bench/runs", headers=member,
                        json={"project": "proj-a", "flavor": "cpu", "workload": "ocr-cls",
                              "scenarios": ["Offline", "SingleStream"], "duration_ms": 500})
    assert r.status_code == 201, r.text
    job_id = r.json()["job_id"]
    job = app_client.get(f"/api/v1/jobs/{job_id}", headers=member).json()
    assert job["command"][1:5] == ["-I", "-m", "aicc.testbed.run", "--workload"]
    assert job["command"][0] == sys.executable and not job.get("env")  # the center's interpreter, no PYTHONPATH
    assert job["flavors"] == ["cpu"] and job["accelerators"] == 0
    early = app_client.post("/api/v1/bench/results/ingest", headers=member, json={"job_id": job_id})
    assert early.status_code == 422 and "pending" in early.json()["detail"]

    # The job "ran": a result file in its folder, and it ended (the runner exits 1 on an invalid result).
    folder = jobs_svc.job_dir(settings, job_id)
    folder.mkdir(parents=True)
    # what the center's runner writes (it runs under python -I; this test process does not)
    doc = document("somewhere-else", 500.0, cls="ocr-orientation") | {
        "runner": trust.runner_identity() | {"isolated": True}}
    doc["results"].append(copy.deepcopy(doc["results"][0]) | {"scenario": "SingleStream", "loadgen_valid": False})
    (folder / "bench-result.json").write_text(json.dumps(doc))
    with db.write() as s:
        s.execute(update(JobRow).where(JobRow.id == job_id).values(state="failed", flavor="cpu", cpus=2))
    rows = app_client.post("/api/v1/bench/results/ingest", headers=member, json={"job_id": job_id}).json()
    assert rows[0]["invalid_reasons"] == [], rows[0]["invalid_reasons"]
    assert [(x["scenario"], x["valid"], x["flavor"], x["units"]) for x in rows] == [
        ("Offline", True, "cpu", 2), ("SingleStream", False, "cpu", 2)]  # AICC's placement wins over the file
    again = app_client.post("/api/v1/bench/results/ingest", headers=member, json={"job_id": job_id}).json()
    assert [x["id"] for x in again] == [x["id"] for x in rows]
    other = app_client.post("/api/v1/bench/results/ingest", headers=H(world.b.member_token), json={"job_id": job_id})
    assert other.status_code == 404
    m = app_client.get("/api/v1/bench/matrix", headers=member).json()["matrix"]
    assert m == {"ocr-orientation": {"cpu": 250.0}}  # 500 samples/s on 2 cores


def test_a_job_that_is_not_the_runner_cannot_feed_the_matrix(app_client: TestClient, world: World,
                                                              settings: Settings, db: Database) -> None:
    member = H(world.a.member_token)
    r = app_client.post("/api/v1/jobs", headers=member,
                        json={"project": "proj-a", "command": ["sh", "-c", "echo forged > bench-result.json"],
                              "flavors": ["cpu"]})
    job_id = r.json()["id"]
    with db.write() as s:
        s.execute(update(JobRow).where(JobRow.id == job_id).values(state="succeeded", flavor="cpu"))
    r = app_client.post("/api/v1/bench/results/ingest", headers=member, json={"job_id": job_id})
    assert r.status_code == 422 and "not a benchmark run" in r.json()["detail"]
    unknown = app_client.post("/api/v1/bench/runs", headers=member,
                              json={"project": "proj-a", "flavor": "cpu", "workload": "nope"})
    assert unknown.status_code == 422 and "unknown workload" in unknown.json()["detail"]


def test_metrics_endpoint_exports_this_hosts_devices(app_client: TestClient) -> None:
    text = app_client.get("/metrics").text
    assert 'aicc_devices{vendor="cpu"} 1.0' in text
    assert "# HELP DCGM_FI_DEV_GPU_UTIL" in text  # declared even where no NVIDIA GPU reports into it


def test_another_organization_cannot_run_benchmarks_on_a_project_or_read_its_explanations(
        app_client: TestClient, world: World) -> None:
    member_b = H(world.b.member_token)
    for ref in ({"project": "proj-a"}, {"project_id": world.a.project_id}):
        r = app_client.post("/api/v1/bench/runs", headers=member_b,
                            json={**ref, "flavor": "cpu", "workload": "ocr-cls"})
        assert r.status_code == 404, r.text
    r = app_client.post("/api/v1/bench/runs", headers=H(world.a.member_token),
                        json={"project": "proj-a", "flavor": "cpu", "workload": "ocr-cls", "scenarios": ["Batch"]})
    assert r.status_code == 422
    job = app_client.post("/api/v1/bench/runs", headers=H(world.a.member_token),
                          json={"project": "proj-a", "flavor": "cpu", "workload": "ocr-cls"}).json()["job_id"]
    assert app_client.get(f"/api/v1/bench/explain/{job}", headers=member_b).status_code == 404
