"""Datasets and grants through the API: registration checks, pseudonymisation, k-anonymity, tenancy."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from aicc.core.datazone.datasets import pseudonym
from aicc.services.datazone.datasets import pseudonym_key
from tests.datazone.conftest import COLUMNS, Zone, write_patients


def test_register_publish_pseudonymises_and_reports_k(zone: Zone) -> None:
    write_patients(zone.settings.datasets_root / "cxr" / "patients.csv")
    ds = zone.register()
    assert ds["state"] == "registered" and ds["files"] == 1
    assert ds["k_report"]["ok"] and ds["k_report"]["k"] == 10
    ds = zone.publish(ds["id"])
    assert ds["state"] == "published"
    published = list((zone.settings.published_dir).glob("*-cxr/patients.csv"))
    assert len(published) == 1
    rows = list(csv.reader(published[0].open()))
    key = pseudonym_key(zone.settings)
    assert rows[1][0] == pseudonym(key, "900101-1000000")  # the identifier is replaced ...
    assert "900101" not in published[0].read_text()  # ... everywhere
    assert rows[1][1:] == ["40s", "F", "pneumonia", "3"]  # and nothing else changes
    assert oct(os.stat(zone.settings.secrets_dir / "pseudonym.key").st_mode & 0o777) == "0o600"


def test_publication_refused_below_k_and_after_the_data_changed(zone: Zone) -> None:
    write_patients(zone.settings.datasets_root / "rare" / "p.csv", rare=True)
    ds = zone.register("rare", "rare")
    assert not ds["k_report"]["ok"] and ds["k_report"]["k"] == 1
    r = zone.client.post(f"/api/v1/datasets/{ds['id']}/publish", headers=zone.h(zone.custodian_token))
    assert r.status_code == 409 and "k-anonymity is 1" in r.json()["detail"]

    write_patients(zone.settings.datasets_root / "cxr" / "patients.csv")
    ds = zone.register()
    with open(zone.settings.datasets_root / "cxr" / "patients.csv", "a") as f:
        f.write("x,40s,F,copd,1\n")
    r = zone.client.post(f"/api/v1/datasets/{ds['id']}/publish", headers=zone.h(zone.custodian_token))
    assert r.status_code == 409 and "changed since registration" in r.json()["detail"]


def test_bad_paths_are_refused_and_nothing_is_written(zone: Zone, tmp_path: Path) -> None:
    root = zone.settings.datasets_root
    write_patients(root / "cxr" / "patients.csv")
    outside = tmp_path / "outside"
    write_patients(outside / "patients.csv")
    (root / "escape").symlink_to(outside)
    (root / "inner").mkdir()
    (root / "inner" / "link.csv").symlink_to(root / "cxr" / "patients.csv")
    body = {"organization_id": zone.hospital, "title": "t", "classification": "sensitive", "columns": COLUMNS}
    for name, path, why in [("a", "../outside", "without '..'"), ("b", str(outside), "relative"),
                            ("c", "escape", "outside the data root"), ("d", "nope", "not a directory"),
                            ("e", "inner", "symlink")]:
        r = zone.client.post("/api/v1/datasets", headers=zone.h(zone.custodian_token),
                             json={**body, "name": name, "path": path})
        assert r.status_code == 422, (path, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert why in r.json()["detail"], r.json()
    r = zone.client.post("/api/v1/datasets", headers=zone.h(zone.custodian_token),
                         json={**body, "name": "f", "path": "cxr", "columns": [{"name": "ssn", "role": "identifier"}]})
    assert r.status_code == 422 and "ssn" in r.json()["detail"]
    assert zone.client.get("/api/v1/datasets", headers=zone.h(zone.world.admin_token)).json() == []


def test_only_custodians_register_and_decide(zone: Zone) -> None:
    write_patients(zone.settings.datasets_root / "cxr" / "patients.csv")
    body = {"organization_id": zone.hospital, "name": "cxr", "title": "t", "classification": "sensitive",
            "path": "cxr", "columns": COLUMNS}
    member_b = zone.client.post("/api/v1/datasets", headers=zone.h(zone.world.b.member_token), json=body)
    assert member_b.status_code == 403
    other_org = zone.client.post("/api/v1/datasets", headers=zone.h(zone.world.a.admin_token), json=body)
    assert other_org.status_code == 404
    ds = zone.publish(zone.register()["id"])
    g = zone.grant(approve=False)
    r = zone.client.post(f"/api/v1/grants/{g['id']}/decision", headers=zone.h(zone.world.a.admin_token),
                         json={"approve": True})
    assert r.status_code == 403  # the applicant's own admin cannot approve access to someone else's data
    assert ds["id"]


def test_sensitive_datasets_are_invisible_without_a_grant(zone: Zone) -> None:
    write_patients(zone.settings.datasets_root / "cxr" / "patients.csv")
    ds = zone.publish(zone.register()["id"])
    a = zone.h(zone.world.a.member_token)
    assert zone.client.get("/api/v1/datasets", headers=a).json() == []
    assert zone.client.get(f"/api/v1/datasets/{ds['id']}", headers=a).status_code == 404
    zone.grant()
    assert [d["name"] for d in zone.client.get("/api/v1/datasets", headers=a).json()] == ["cxr"]
    # tenant b's plain member sees its own organization's dataset; the outsider sees nothing
    assert zone.client.get(f"/api/v1/datasets/{ds['id']}", headers=zone.h(zone.world.b.member_token)).status_code \
        == 200
    assert zone.client.get("/api/v1/datasets", headers=zone.h(zone.world.outsider_token)).json() == []
    assert zone.client.get("/api/v1/grants", headers=zone.h(zone.world.outsider_token)).json() == []


def test_jobs_need_a_live_grant_and_revocation_stops_new_ones(zone: Zone) -> None:
    write_patients(zone.settings.datasets_root / "cxr" / "patients.csv")
    zone.publish(zone.register()["id"])
    a = zone.h(zone.world.a.member_token)
    job = {"project": "proj-a", "command": ["true"], "datasets": ["cxr"]}
    r = zone.client.post("/api/v1/jobs", headers=a, json=job)
    assert r.status_code == 422 and "not found or not published" in r.json()["detail"]  # no existence leak
    g = zone.grant()
    r = zone.client.post("/api/v1/jobs", headers=a, json=job)
    assert r.status_code == 201, r.text
    assert zone.client.get(f"/api/v1/jobs/{r.json()['id']}", headers=a).json()["datasets"] != []
    r = zone.client.post(f"/api/v1/grants/{g['id']}/revoke", headers=zone.h(zone.custodian_token),
                         json={"comment": "study closed", "stop_running": True})
    assert r.status_code == 200 and r.json()["grant"]["state"] == "revoked"
    r = zone.client.post("/api/v1/jobs", headers=a, json=job)
    assert r.status_code == 422
    again = zone.client.post(f"/api/v1/grants/{g['id']}/revoke", headers=zone.h(zone.custodian_token), json={})
    assert again.status_code == 409


def test_grant_input_errors(zone: Zone) -> None:
    write_patients(zone.settings.datasets_root / "cxr" / "patients.csv")
    zone.publish(zone.register()["id"])
    a = zone.h(zone.world.a.member_token)
    base = {"dataset": "cxr", "project_id": zone.world.a.project_id, "purpose": "train a classifier"}
    past = zone.client.post("/api/v1/grants", headers=a, json={**base, "expires_at": "2020-01-01T00:00:00Z"})
    assert past.status_code == 422
    far = zone.client.post("/api/v1/grants", headers=a, json={**base, "expires_at": "2199-01-01T00:00:00Z"})
    assert far.status_code == 422
    other = zone.client.post("/api/v1/grants", headers=a, json={
        **base, "project_id": zone.world.b.project_id, "expires_at": "2028-01-01T00:00:00Z"})
    assert other.status_code == 404
    zone.grant(approve=False)
    dup = zone.client.post("/api/v1/grants", headers=a, json={**base, "expires_at": "2028-01-01T00:00:00Z"})
    assert dup.status_code == 409
