"""A sensitive job end to end on the real controller, local executor and bubblewrap sandbox.

The job tries to leak (network, writing the data, a symlink to the data, copied
rows, small cells, its own logs); each leak must be stopped by the sandbox or
caught by the checks, and only what the custodian approves can be downloaded.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import sys
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from aicc.store.db import Database
from tests.controller.conftest import Harness
from tests.datazone.conftest import Zone

JOB = r'''
import json, os, socket, sys
import pandas as pd
from aicc import datazone

df = pd.read_csv("/data/cxr/patients.csv")
report = {"rows": len(df), "first_id": df.patient_id[0]}
try:
    socket.create_connection(("127.0.0.1", int(os.environ["HOST_PORT"])), timeout=2)
    report["network"] = "connected"
except OSError as exc:
    report["network"] = type(exc).__name__
try:
    open("/data/cxr/patients.csv", "a").write("x")
    report["data_write"] = "written"
except OSError as exc:
    report["data_write"] = type(exc).__name__
report["db_visible"] = os.path.exists(os.environ["HOST_DB"])
out = datazone.output_dir()
(out / "summary.txt").write_text("mean length of stay: %.2f days\n" % df.los_days.mean())
df.head(3).to_csv(out / "rows.csv", index=False, header=False)
os.symlink("/data/cxr/patients.csv", out / "link.csv")
acro = datazone.session()
acro.crosstab(df.age_band, df.sex)
small = df[df.los_days == 3]
acro.crosstab(small.age_band, small.diagnosis)
datazone.finalise(acro)
print(json.dumps(report))
print("first patient", df.patient_id[0], file=sys.stderr)
'''


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP server on the host's loopback: reachable from the host, not from the sandbox."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                srv.accept()[0].close()
            except OSError:
                continue

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join()
    srv.close()


@pytest.fixture
def zone_harness(harness: Harness, zone: Zone) -> tuple[Harness, Zone]:
    zone.client = harness.client
    zone.settings = harness.settings
    return harness, zone


def test_sensitive_job_is_sandboxed_held_checked_and_released_file_by_file(
        zone_harness: tuple[Harness, Zone], listener: int, db: Database) -> None:
    harness, zone = zone_harness
    socket.create_connection(("127.0.0.1", listener), timeout=2).close()  # positive control: the host can connect
    zone.ready()
    member = zone.h(zone.world.a.member_token)
    custodian = zone.h(zone.custodian_token)
    job_id = harness.submit(zone.world.a.member_token, command=[sys.executable, "-c", JOB], datasets=["cxr"],
                            env={"HOST_PORT": str(listener), "HOST_DB": str(harness.settings.home / "aicc.db")},
                            memory_mb=2048, time_limit_s=300)
    job = harness.until_state(job_id, "succeeded", "failed", timeout=120)
    assert job["state"] == "succeeded", job

    # logs are held too: the member cannot read them through the jobs API
    r = harness.client.get(f"/api/v1/jobs/{job_id}/logs", headers=member)
    assert r.status_code == 403 and "held" in r.json()["detail"]

    reqs = harness.client.get("/api/v1/outputs", headers=member).json()
    assert len(reqs) == 1 and reqs[0]["job_id"] == job_id and reqs[0]["state"] == "checked"
    assert reqs[0]["files"] == [] and reqs[0]["note"] == "held for review"  # the project: a count, nothing else
    req = harness.client.get(f"/api/v1/outputs/{reqs[0]['id']}", headers=custodian).json()
    assert req["held_files"] == reqs[0]["held_files"] == len(req["files"])
    files = {f["path"]: f for f in req["files"]}
    assert files["out/link.csv"]["kind"] == "symlink" and files["out/link.csv"]["check_status"] == "fail"
    assert files["out/rows.csv"]["check_status"] == "fail"
    assert any("copies of rows" in x for x in files["out/rows.csv"]["check_reasons"])
    assert files["out/summary.txt"]["check_status"] == "pass"
    assert not [p for p in files if p.startswith("out/.")], "caches belong in the private /tmp, not in /out"
    acro_tables = {p: f for p, f in files.items() if p.startswith("out/acro/output_") and p.endswith(".csv")}
    assert sorted(f["check_status"] for f in acro_tables.values()) == ["fail", "pass"], acro_tables
    assert files["stdout.log"]["check_status"] == "fail"  # the pseudonymised id printed to the log
    assert files["stderr.log"]["check_status"] == "fail"

    # what the sandbox did, read by the custodian from the held stdout
    stdout = harness.client.get(f"/api/v1/outputs/{req['id']}/files/{files['stdout.log']['id']}/content",
                                headers=custodian)
    assert stdout.status_code == 200
    report = __import__("json").loads(stdout.content.splitlines()[-1])
    assert report["rows"] == 60 and report["first_id"].startswith("p_")  # pseudonymised, never the real id
    assert report["network"] != "connected"  # its own network namespace: the host's loopback is not there
    assert report["data_write"] in ("OSError", "PermissionError")
    assert report["db_visible"] is False

    summary = files["out/summary.txt"]
    url = f"/api/v1/outputs/{req['id']}/files/{summary['id']}"
    assert harness.client.get(url + "/content", headers=member).status_code == 403  # not before approval
    outsider = zone.h(zone.world.outsider_token)
    assert harness.client.get(f"/api/v1/outputs/{req['id']}", headers=outsider).status_code == 404
    assert harness.client.get("/api/v1/outputs", headers=zone.h(zone.world.b.member_token)).json() == []

    r = harness.client.post(url + "/decision", headers=member, json={"approve": True})
    assert r.status_code == 403  # the project cannot release its own outputs
    r = harness.client.post(url + "/decision", headers=custodian, json={"approve": True, "comment": "aggregate"})
    assert r.status_code == 200 and r.json()["decision"] == "approved"
    got = harness.client.get(url + "/content", headers=member)
    assert got.status_code == 200 and got.content.startswith(b"mean length of stay")
    seen = harness.client.get(f"/api/v1/outputs/{req['id']}", headers=member).json()
    assert [f["path"] for f in seen["files"]] == ["out/summary.txt"] and seen["files"][0]["check_reasons"] is None

    link = files["out/link.csv"]
    r = harness.client.post(f"/api/v1/outputs/{req['id']}/files/{link['id']}/decision", headers=custodian,
                            json={"approve": True, "comment": "I really want to release this link"})
    assert r.status_code == 409 and "never released" in r.json()["detail"]
    rows = files["out/rows.csv"]
    r = harness.client.post(f"/api/v1/outputs/{req['id']}/files/{rows['id']}/decision", headers=custodian,
                            json={"approve": True})
    assert r.status_code == 422  # approving a failed file needs a reason
    r = harness.client.post(f"/api/v1/outputs/{req['id']}/files/{rows['id']}/decision", headers=custodian,
                            json={"approve": False, "comment": "row-level data"})
    assert r.status_code == 200
    assert harness.client.get(f"/api/v1/outputs/{req['id']}/files/{rows['id']}/content",
                              headers=member).status_code == 403

    # a released file changed on disk afterwards is no longer downloadable
    (harness.settings.jobs_dir / str(job_id) / "out" / "summary.txt").write_text("patient list ...")
    assert harness.client.get(url + "/content", headers=member).status_code == 409

    # every step is in the audit chain; editing one event is detected, and where
    admin = zone.h(zone.world.admin_token)
    events = harness.client.get("/api/v1/audit?limit=500", headers=admin).json()
    actions = [e["action"] for e in events]
    for action in ("dataset.register", "dataset.publish", "grant.request", "grant.approved", "job.submit",
                   "job.start", "output.hold", "output.view", "output.approved", "output.rejected",
                   "output.download"):
        assert action in actions, action
    assert harness.client.get("/api/v1/audit/verify", headers=admin).json()["intact"] is True
    seq = next(e["seq"] for e in events if e["action"] == "output.approved")
    _tamper(db, seq)
    verdict = harness.client.get("/api/v1/audit/verify", headers=admin).json()
    assert verdict["intact"] is False and verdict["problems"][0]["seq"] == seq


def _tamper(db: Database, seq: int) -> None:
    """What an attacker with database access would do: rewrite a release decision's comment."""
    with db.engine.begin() as c:
        if db.engine.dialect.name == "postgresql":
            c.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            c.execute(text("UPDATE audit_events SET data = CAST(REPLACE(CAST(data AS TEXT), 'aggregate', 'nothing') "
                           "AS JSON) WHERE seq = :seq"), {"seq": seq})
            c.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
        else:
            c.execute(text("DROP TRIGGER audit_events_no_update"))
            c.execute(text("UPDATE audit_events SET data = REPLACE(data, 'aggregate', 'nothing') WHERE seq = :seq"),
                      {"seq": seq})


def test_revoking_a_grant_stops_running_jobs_and_holds_back_queued_ones(
        zone_harness: tuple[Harness, Zone]) -> None:
    harness, zone = zone_harness
    zone.ready()
    token = zone.world.a.member_token
    running = harness.submit(token, command=["sleep", "60"], datasets=["cxr"], cpus=16, memory_mb=1024)
    harness.until_state(running, "running", timeout=60)
    queued = harness.submit(token, command=["true"], datasets=["cxr"], cpus=16, memory_mb=1024)
    grant = zone.client.get("/api/v1/grants", headers=zone.h(zone.custodian_token)).json()[0]
    r = zone.client.post(f"/api/v1/grants/{grant['id']}/revoke", headers=zone.h(zone.custodian_token),
                         json={"comment": "consent withdrawn", "stop_running": True})
    assert r.status_code == 200 and r.json()["stopped_jobs"] == [running]
    job = harness.until_state(running, "cancelled", timeout=30)
    assert "revoked" in job["reason"]
    harness.controller.cycle()
    waiting = harness.job(queued)
    assert waiting["state"] == "pending" and "no live grant for dataset cxr" in waiting["reason"]


def test_a_flood_of_files_and_an_oversized_file_are_held_but_never_releasable(
        zone_harness: tuple[Harness, Zone], monkeypatch: pytest.MonkeyPatch) -> None:
    from aicc.services.datazone import outputs

    harness, zone = zone_harness
    monkeypatch.setattr(outputs, "MAX_HELD_FILES", 3)
    harness.settings = dataclasses.replace(harness.settings, output_max_file_bytes=1000)
    harness.controller.settings = harness.settings
    zone.ready()
    script = "for i in 1 2 3 4 5; do echo $i > /out/f$i.txt; done"
    flood = harness.submit(zone.world.a.member_token, command=["sh", "-c", script], datasets=["cxr"])
    big = harness.submit(zone.world.a.member_token, command=["sh", "-c", "head -c 5000 /dev/zero | tr '\\0' a "
                                                              "> /out/big.txt"], datasets=["cxr"])
    for job_id in (flood, big):
        assert harness.until_state(job_id, "succeeded", "failed", timeout=60)["state"] == "succeeded"
    custodian = zone.h(zone.custodian_token)
    reqs = {r["job_id"]: r for r in harness.client.get("/api/v1/outputs", headers=custodian).json()}
    flood_files = {f["path"]: f for f in reqs[flood]["files"]}
    assert "out/f1.txt" not in flood_files and flood_files["out/"]["check_status"] == "fail"
    big_file = next(f for f in reqs[big]["files"] if f["path"] == "out/big.txt")
    assert big_file["check_status"] == "fail" and big_file["sha256"] is None
    r = harness.client.post(f"/api/v1/outputs/{reqs[big]['id']}/files/{big_file['id']}/decision", headers=custodian,
                            json={"approve": True, "comment": "it is only the letter a, many times"})
    assert r.status_code == 409 and "cannot be released" in r.json()["detail"]


ATTACK = r'''
import base64, json, os, sys
import pandas as pd
from aicc import datazone

df = pd.read_csv("/data/cxr/patients.csv")
out = datazone.output_dir()
pid = df.patient_id[0]
(out / f"{pid}.txt").write_text("nothing to see here\n")  # a row in a file name
(out / "size.txt").write_text("x" * int(df.los_days[0] * 100))  # a value in a file size
small = df[df.los_days == 3]
counts = pd.crosstab(small.age_band, small.diagnosis)
acro = out / "acro"
acro.mkdir()
counts.to_csv(acro / "output_0_0.csv")  # a small-cell crosstab ...
df.drop(columns=["patient_id"]).to_csv(acro / "output_1_0.csv", index=False)  # ... and every row
forged = {"status": "pass", "summary": "pass; " + ";".join(df.patient_id[:12])}
(acro / "results.json").write_text(json.dumps({"version": "1.0.2", "results": {
    "output_0": {**forged, "files": [{"name": "output_0_0.csv"}]},
    "output_1": {**forged, "files": [{"name": "output_1_0.csv"}]}}}))
(out / "b64.txt").write_text(base64.b64encode(pid.encode()).decode())
(out / "reversed.txt").write_text(pid[::-1])
(out / "upper.txt").write_text(pid.upper())
(out / "zero-width.txt").write_text(pid[:6] + "\u200b" + pid[6:])
(out / "no-prefix.txt").write_text(pid[2:])
(out / "rows.json").write_text(df.drop(columns=["patient_id"]).to_json(orient="records"))
(out / "small.txt").write_text(counts.to_string())
md = "| age_band | " + " | ".join(counts.columns) + " |\n|---|" + "---|" * len(counts.columns) + "\n"
md += "".join(f"| {i} | " + " | ".join(map(str, r)) + " |\n" for i, r in counts.iterrows())
(out / "small.md").write_text(md)
(out / "결과.txt").write_text("평균 재원일수 5.2일\n")
fd = os.open(bytes(out) + b"/\xff\xfe.txt", os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"x")
os.close(fd)
sys.exit(int(df.los_days[0]) + 40)  # a value in the exit code
'''


def test_a_hostile_job_learns_nothing_before_approval_and_its_disguises_are_caught(
        zone_harness: tuple[Harness, Zone], db: Database) -> None:
    harness, zone = zone_harness
    zone.ready()
    member = zone.h(zone.world.a.member_token)
    custodian = zone.h(zone.custodian_token)
    job_id = harness.submit(zone.world.a.member_token, command=[sys.executable, "-c", ATTACK], datasets=["cxr"],
                            memory_mb=2048, time_limit_s=300)
    assert harness.until_state(job_id, "succeeded", "failed", timeout=120)["state"] == "failed"
    assert harness.job(job_id)["exit_code"] == 43  # a center admin sees the exact outcome; custodians in run.json

    # the project: "failed", minutes, a count of files "held for review"; no name, size, reason or code
    job = harness.client.get(f"/api/v1/jobs/{job_id}", headers=member).json()
    assert job["state"] == "failed" and job["exit_code"] is None and "43" not in job["reason"]
    assert "your command ended with an error" in job["reason"] and job["ended_at"].endswith(":00Z")
    listed = harness.client.get("/api/v1/jobs", headers=member).json()["items"]
    assert next(j for j in listed if j["id"] == job_id)["exit_code"] is None
    mine = harness.client.get("/api/v1/outputs", headers=member)
    req = harness.client.get(f"/api/v1/outputs/{mine.json()[0]['id']}", headers=custodian).json()
    files = {f["path"]: f for f in req["files"]}
    pid = "p_" + harness.client.get(f"/api/v1/outputs/{req['id']}/files/{files['out/no-prefix.txt']['id']}/content",
                                    headers=custodian).text
    assert mine.json()[0]["files"] == [] and mine.json()[0]["held_files"] == len(files) >= 18
    shown = mine.text + harness.client.get(f"/api/v1/outputs/{req['id']}", headers=member).text
    for secret in (pid, pid[2:], "size.txt", "결과", "rows.json", "fail"):
        assert secret not in shown, secret
    # the size as a number anywhere but inside a timestamp (whose microseconds may hold its digits by chance)
    size = files["out/size.txt"]["size"]
    untimed = re.sub(r'"\d{4}-\d\d-\d\dT[^"]*"', '""', shown)
    assert not re.search(rf"(?<![\d.]){size}(?![\d])", untimed), size
    events = harness.client.get("/api/v1/audit?limit=500", headers=zone.h(zone.world.a.admin_token)).text
    assert pid[2:] not in events and "size.txt" not in events and '"exit_code": 43' not in events

    # the server's checks: nothing the job wrote about itself is believed, disguises are seen through
    for path in (f"out/{pid}.txt", "out/acro/output_0_0.csv", "out/acro/output_1_0.csv", "out/b64.txt",
                 "out/reversed.txt", "out/upper.txt", "out/zero-width.txt", "out/no-prefix.txt", "out/rows.json",
                 "out/small.txt", "out/small.md"):
        assert files[path]["check_status"] == "fail", (path, files[path]["check_reasons"])
    assert not any("ACRO" in why for f in files.values() for why in f["check_reasons"])
    assert files["out/결과.txt"]["check_status"] == "pass"
    bad = next(f for p, f in files.items() if p.startswith("out/\\x"))
    assert bad["check_status"] == "fail" and "not valid UTF-8" in bad["check_reasons"][0] and bad["sha256"] is None
    assert "output.unreleasable" in harness.client.get("/api/v1/audit?limit=500",
                                                       headers=zone.h(zone.world.admin_token)).text

    # a Korean file name is viewed and downloaded (RFC 6266), not a 500
    korean = files["out/결과.txt"]
    got = harness.client.get(f"/api/v1/outputs/{req['id']}/files/{korean['id']}/content", headers=custodian)
    assert got.status_code == 200 and got.content.decode() == "평균 재원일수 5.2일\n"
    assert "filename*=UTF-8''%EA%B2%B0%EA%B3%BC.txt" in got.headers["content-disposition"]

    # releasing run.json releases the exact outcome to the project
    run = harness.client.get(f"/api/v1/outputs/{req['id']}/files/{files['run.json']['id']}/content",
                             headers=custodian).json()
    assert run["exit_code"] == 43 and run["state"] == "failed" and run["run_time_s"] > 0
    r = harness.client.post(f"/api/v1/outputs/{req['id']}/files/{files['run.json']['id']}/decision",
                            headers=custodian, json={"approve": True, "comment": "exit status only"})
    assert r.status_code == 200
    assert harness.client.get(f"/api/v1/jobs/{job_id}", headers=member).json()["exit_code"] == 43
