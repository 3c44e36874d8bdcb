"""Holding outputs never fails silently, and bad names in requests are refused with problem+json, not a 500."""

from __future__ import annotations

import pytest

from aicc.services import jobs, tokens
from aicc.services.datazone import outputs
from aicc.store.db import Database
from aicc.store.models import AuditEventRow, JobRow
from tests.datazone.conftest import COLUMNS, Zone, write_patients


def test_a_dataset_path_component_over_255_bytes_is_refused_as_invalid_input(zone: Zone) -> None:
    write_patients(zone.settings.datasets_root / "cxr" / "patients.csv")
    for path in ("가" * 90, "cxr/" + "a" * 256):  # 270 bytes of Korean; 256 ASCII under a real directory
        r = zone.client.post("/api/v1/datasets", headers=zone.h(zone.custodian_token), json={
            "organization_id": zone.hospital, "name": "long", "title": "t", "classification": "sensitive",
            "path": path, "columns": COLUMNS})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "longer than 255 bytes" in r.json()["detail"]


def test_when_holding_crashes_the_custodian_still_learns_the_job_ran(
        zone: Zone, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    zone.ready()
    with db.write() as s:
        member = tokens.authenticate(s, zone.world.a.member_token)
        spec = jobs.JobSpec(project_id=zone.world.a.project_id, command=["true"], name="j", flavors=["cpu"],
                            datasets=["cxr"])
        job_id = jobs.submit(s, member, zone.settings, spec).ids[0]
    (zone.settings.jobs_dir / str(job_id) / "out").mkdir(parents=True)
    (zone.settings.jobs_dir / str(job_id) / "out" / "a.txt").write_text("x")

    def broken(*_: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(outputs, "check_request", broken)
    with db.write() as s:
        job = s.get(JobRow, job_id)
        assert job is not None
        req = outputs.hold(s, zone.settings, job)
        assert req is not None
        held = outputs.files(s, req.id)
        assert [(f.path, f.check_status) for f in held] == [("out/", "fail")]
        assert "holding the job's outputs failed (RuntimeError)" in held[0].check_reasons[0]
        event = s.query(AuditEventRow).filter_by(action="output.hold").one()
        assert event.data["failed"] == "RuntimeError" and event.organization_id == zone.hospital
    r = zone.client.get("/api/v1/outputs", headers=zone.h(zone.custodian_token))
    assert [x["job_id"] for x in r.json()] == [job_id]

