"""The data zone on the portal: publish, grants, held outputs file by file, released downloads, the audit trail.

Outputs are held the way the controller holds them (``outputs.hold`` on the job's
folder) without running the sandbox here; tests/datazone runs the real thing.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from aicc.config import Settings
from aicc.services import jobs, tokens
from aicc.services.datazone import datasets, grants, outputs
from aicc.store.db import Database
from aicc.store.models import GrantRow, JobRow, OutputFileRow, utcnow
from tests.datazone.conftest import COLUMNS, make_custodian, write_patients
from tests.portal.conftest import csrf_of, set_passwords
from tests.world import World

Portal = Callable[[str | None], TestClient]


@dataclass
class Held:
    dataset_id: int
    grant_id: int
    job_id: int
    request_id: int
    files: dict[str, int]


def _register(db: Database, settings: Settings, custodian: str) -> int:
    write_patients(settings.datasets_root / "cxr" / "patients.csv")
    with db.write() as s:
        actor = tokens.authenticate(s, custodian)
        ds = datasets.register(s, actor, settings, organization_id=actor_org(actor), name="cxr",
                               title="Chest X-ray cohort", description="", classification="sensitive", path="cxr",
                               columns=COLUMNS, pseudonymize_ids=True, k_required=5, sdc={})
        return ds.id


def actor_org(actor: object) -> int:
    return next(iter(actor.org_roles))  # type: ignore[attr-defined]


@pytest.fixture
def custodian(db: Database, pworld: World) -> str:
    token = make_custodian(db, pworld.b.org_id)
    set_passwords(db)
    return token


@pytest.fixture
def held(db: Database, settings: Settings, pworld: World, custodian: str) -> Held:
    """cxr published and granted to proj-a; a finished job of a-member with three files held."""
    ds_id = _register(db, settings, custodian)
    with db.write() as s:
        cust = tokens.authenticate(s, custodian)
        datasets.publish(s, cust, settings, ds_id)
        member = tokens.authenticate(s, pworld.a.member_token)
        g = grants.request(s, member, dataset_name="cxr", project_id=pworld.a.project_id,
                           purpose="train a pneumonia classifier", expires_at=utcnow() + dt.timedelta(days=30))
        grants.decide(s, cust, g.id, approve=True, comment="IRB 2026-041")
        spec = jobs.JobSpec(project_id=pworld.a.project_id, command=["python", "analyse.py"], name="cxr-analysis",
                            flavors=["cpu"], datasets=["cxr"])
        job_id = jobs.submit(s, member, settings, spec).ids[0]
    out = settings.jobs_dir / str(job_id) / "out"
    out.mkdir(parents=True)
    (out / "summary.txt").write_text("mean length of stay: 5.90 days\n")
    os.symlink(settings.datasets_root / "cxr" / "patients.csv", out / "link.csv")
    (settings.jobs_dir / str(job_id) / "stdout.log").write_text("done\n")
    (out / "결과.txt").write_text("요약\n")
    with db.write() as s:
        job = s.get(JobRow, job_id)
        assert job is not None
        req = outputs.hold(s, settings, job)
        assert req is not None
        files = {f.path: f.id for f in outputs.files(s, req.id)}
    return Held(ds_id, g.id, job_id, req.id, files)


def test_custodian_publishes_after_reading_the_k_anonymity_report(portal: Portal, db: Database,
                                                                  settings: Settings, custodian: str) -> None:
    ds_id = _register(db, settings, custodian)
    c = portal("b-custodian")
    hub = c.get("/datazone")
    assert hub.status_code == 200 and "cxr" in hub.text and "k = 10 (필요 5)" in hub.text and "등록" in hub.text
    page = c.get(f"/datazone/datasets/{ds_id}")
    assert "k-익명성 보고서" in page.text and "patients.csv" in page.text and "준식별자" in page.text
    # a member of the project cannot see an unpublished sensitive dataset, nor publish it
    member = portal("a-member")
    assert member.get(f"/datazone/datasets/{ds_id}").status_code == 404
    assert member.post(f"/datazone/datasets/{ds_id}/publish", data={"csrf": csrf_of(member.get("/").text)}
                       ).status_code == 404
    r = c.post(f"/datazone/datasets/{ds_id}/publish", data={"csrf": csrf_of(hub.text)}, follow_redirects=False)
    assert r.status_code == 303
    assert "데이터셋을 공개했습니다" in c.get(r.headers["location"]).text
    r = c.post(f"/datazone/datasets/{ds_id}/publish", data={"csrf": csrf_of(hub.text)})
    assert r.status_code == 409 and "이미 공개된 데이터셋입니다" in r.text


def test_member_requests_a_grant_custodian_approves_then_revokes_stopping_jobs(
        portal: Portal, db: Database, settings: Settings, pworld: World, custodian: str) -> None:
    ds_id = _register(db, settings, custodian)
    with db.write() as s:
        datasets.publish(s, tokens.authenticate(s, custodian), settings, ds_id)
    member = portal("a-member")
    page = member.get("/datazone")
    assert "데이터셋 이용 신청" in page.text
    until = (dt.date.today() + dt.timedelta(days=60)).isoformat()
    form = {"csrf": csrf_of(page.text), "dataset": "cxr", "project_id": str(pworld.a.project_id),
            "purpose": "short", "expires": until}
    r = member.post("/datazone/grants", data=form)
    assert r.status_code == 422 and "10자 이상" in r.text and 'value="cxr"' in r.text
    r = member.post("/datazone/grants", data=form | {"purpose": "train a pneumonia classifier"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert "이용을 신청했습니다" in member.get(r.headers["location"]).text
    with db.read() as s:
        grant = s.query(GrantRow).one()
    # the member cannot decide; the custodian approves with a comment
    assert member.post(f"/datazone/grants/{grant.id}/decision", data={"csrf": form["csrf"], "approve": "yes"}
                       ).status_code == 403
    c = portal("b-custodian")
    hub = c.get("/datazone")
    assert "train a pneumonia classifier" in hub.text and f'/datazone/grants/{grant.id}/decision' in hub.text
    r = c.post(f"/datazone/grants/{grant.id}/decision", data={"csrf": csrf_of(hub.text), "approve": "yes",
                                                              "comment": "IRB 2026-041"}, follow_redirects=False)
    assert r.status_code == 303
    assert "IRB 2026-041" in member.get("/datazone").text
    # a running job on the data is stopped when the custodian says so
    with db.write() as s:
        spec = jobs.JobSpec(project_id=pworld.a.project_id, command=["sleep", "60"], flavors=["cpu"],
                            datasets=["cxr"])
        job_id = jobs.submit(s, tokens.authenticate(s, pworld.a.member_token), settings, spec).ids[0]
        job = s.get(JobRow, job_id)
        assert job is not None
        job.state = "running"
    hub = c.get("/datazone")
    assert "이 데이터셋을 쓰는 실행 중 작업도 중지" in hub.text
    r = c.post(f"/datazone/grants/{grant.id}/revoke", data={"csrf": csrf_of(hub.text), "comment": "consent withdrawn",
                                                            "stop_running": "on"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("done=stopped")
    with db.read() as s:
        job = s.get(JobRow, job_id)
        assert job is not None and job.cancel_requested and "revoked" in job.reason
        assert s.get(GrantRow, grant.id).state == "revoked"  # type: ignore[union-attr]


def test_a_sensitive_jobs_log_is_held_on_its_page_too(portal: Portal, held: Held) -> None:
    member = portal("a-member")
    page = member.get(f"/jobs/{held.job_id}")
    assert page.status_code == 200 and "민감 데이터를 읽는 작업입니다" in page.text and "done" not in page.text
    assert member.get(f"/jobs/{held.job_id}/log").json()["data"] == ""


def test_custodian_reviews_files_one_by_one_and_the_member_downloads_released_ones(
        portal: Portal, db: Database, held: Held) -> None:
    member = portal("a-member")
    page = member.get(f"/datazone/outputs/{held.request_id}")
    assert page.status_code == 200 and "파일 5개를 심의를 위해 보관 중입니다" in page.text  # a count, and only that
    for secret in ("summary.txt", "link.csv", "결과.txt", "불통과", "심볼릭 링크", "stdout.log"):
        assert secret not in page.text, secret
    summary, link = held.files["out/summary.txt"], held.files["out/link.csv"]
    base = f"/datazone/outputs/{held.request_id}/files"
    # nothing is readable before release, and the project cannot release its own outputs
    assert member.get(f"{base}/{summary}/download").status_code == 403
    assert member.get(f"{base}/{summary}/view").status_code == 404
    assert member.post(f"{base}/{summary}/decision", data={"csrf": csrf_of(page.text), "approve": "yes"}
                       ).status_code == 403
    c = portal("b-custodian")
    page = c.get(f"/datazone/outputs/{held.request_id}")
    assert f'action="{base}/{summary}/decision"' in page.text
    assert "불통과" in page.text and "심볼릭 링크" in page.text and "결과.txt" in page.text  # custodians: all
    korean = c.get(f"{base}/{held.files['out/결과.txt']}/download")  # RFC 6266, not a 500
    assert korean.status_code == 200 and korean.content == "요약\n".encode()
    assert "filename*=UTF-8''%EA%B2%B0%EA%B3%BC.txt" in korean.headers["content-disposition"]
    assert c.get(f"{base}/{held.files['out/결과.txt']}/view").status_code == 200
    view = c.get(f"{base}/{summary}/view")  # the custodian reads held content (audited)
    assert view.status_code == 200 and "mean length of stay" in view.text and "감사 기록에 남습니다" in view.text
    csrf = csrf_of(page.text)
    # a symlink is never released: no approve button, and the service refuses a forged one
    link_row = page.text.split(f'id="file-{link}"')[1].split("</tr>")[0]
    assert 'value="yes"' not in link_row
    r = c.post(f"{base}/{link}/decision", data={"csrf": csrf, "approve": "yes",
                                                "comment": "I really want to release this link"})
    assert r.status_code == 409 and "심볼릭 링크라서 반출할 수 없습니다" in r.text
    r = c.post(f"{base}/{summary}/decision", data={"csrf": csrf, "approve": "yes", "comment": "aggregate"},
               follow_redirects=False)
    assert r.status_code == 303
    r = c.post(f"{base}/{link}/decision", data={"csrf": csrf, "approve": "no", "comment": "a link to the data"},
               follow_redirects=False)
    assert r.status_code == 303
    page = member.get(f"/datazone/outputs/{held.request_id}")
    assert f"{base}/{summary}/download" in page.text and f"{base}/{link}/download" not in page.text
    got = member.get(f"{base}/{summary}/download")
    assert got.status_code == 200 and got.content.startswith(b"mean length of stay")
    assert "attachment" in got.headers["content-disposition"]
    assert member.get(f"{base}/{link}/download").status_code in (403, 409)
    with db.read() as s:
        assert s.get(OutputFileRow, link).decision == "rejected"  # type: ignore[union-attr]
    # the custodian's audit trail has every step, whoever acted
    trail = c.get("/datazone/audit")
    assert trail.status_code == 200
    for action in ("dataset.publish", "grant.request", "grant.approved", "output.hold", "output.view",
                   "output.approved", "output.rejected", "output.download"):
        assert action in trail.text, action
    only = c.get("/datazone/audit?action=output.download")
    assert "output.download" in only.text and "grant.request" not in only.text
    assert member.get("/datazone/audit").status_code == 403


@pytest.mark.parametrize("username", ["b-member", "nobody", "rev", "a-admin"])
def test_other_tenants_cannot_see_or_act_on_outputs_grants_and_data(portal: Portal, held: Held,
                                                                    username: str) -> None:
    c = portal(username)
    csrf = csrf_of(c.get("/").text)
    base = f"/datazone/outputs/{held.request_id}"
    summary = held.files["out/summary.txt"]
    if username == "a-admin":  # the project's organization admin sees the request, but decides nothing
        assert c.get(base).status_code == 200
        assert c.post(f"{base}/files/{summary}/decision", data={"csrf": csrf, "approve": "yes"}).status_code == 403
        assert c.post(f"/datazone/grants/{held.grant_id}/revoke", data={"csrf": csrf, "comment": "x"}
                      ).status_code == 403
        return
    # b-member belongs to the hospital that holds the data: it sees the dataset, but is no custodian
    same_org = username == "b-member"
    for path in [base, f"{base}/files/{summary}/view", f"{base}/files/{summary}/download"] + (
            [] if same_org else [f"/datazone/datasets/{held.dataset_id}"]):
        r = c.get(path)
        assert r.status_code == 404, path
        assert "cxr-analysis" not in r.text and "summary.txt" not in r.text
    assert c.post(f"{base}/files/{summary}/decision", data={"csrf": csrf, "approve": "yes"}).status_code == 404
    for path in [f"/datazone/grants/{held.grant_id}/decision", f"/datazone/grants/{held.grant_id}/revoke",
                 f"/datazone/datasets/{held.dataset_id}/publish"]:
        r = c.post(path, data={"csrf": csrf, "approve": "yes", "comment": "x"})
        assert r.status_code == (403 if same_org else 404), path
    hub = c.get("/datazone")
    assert hub.status_code == 200
    assert f'href="{base}"' not in hub.text
    if not same_org:
        assert "train a pneumonia" not in hub.text and "IRB" not in hub.text


def test_data_zone_forms_need_the_csrf_token(portal: Portal, held: Held) -> None:
    c = portal("b-custodian")
    summary = held.files["out/summary.txt"]
    r = c.post(f"/datazone/outputs/{held.request_id}/files/{summary}/decision", data={"approve": "yes",
                                                                                      "comment": "aggregate"})
    assert r.status_code == 403 and "양식이 만료되었습니다" in r.text


def test_the_project_sees_a_held_job_end_only_coarsely_until_its_run_is_released(
        portal: Portal, db: Database, held: Held) -> None:
    with db.write() as s:
        job = s.get(JobRow, held.job_id)
        assert job is not None
        started = utcnow().replace(second=7) - dt.timedelta(minutes=3)
        job.state, job.exit_code, job.reason = "failed", 43, "exited with code 43"
        job.started_at, job.ended_at = started, started + dt.timedelta(minutes=2, seconds=41)
    member = portal("a-member")
    page = member.get(f"/jobs/{held.job_id}")
    why = page.text.split('id="job-reason">')[1].split("</span>")[0]
    assert page.status_code == 200 and "43" not in why and "명령이 오류로 끝났습니다" in why and "약 2분" in why
    assert "종료 코드</dt><dd id=\"job-exit\">–</dd>" in page.text
    assert "43" not in member.get(f"/jobs/{held.job_id}/log").json()["reason"]
