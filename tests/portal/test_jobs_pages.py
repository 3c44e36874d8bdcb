"""Jobs through the portal: submit, list (filters, sorting, pages), detail with log, cancel; dashboards."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from aicc.config import Settings
from aicc.services import jobs
from aicc.store.db import Database
from tests.portal.conftest import csrf_of
from tests.portal.helpers import submit
from tests.world import World

Portal = Callable[[str | None], TestClient]


def _ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<td class="num"><a href="/jobs/(\d+)">', html)]


def test_submit_form_creates_a_job_and_shows_it(portal: Portal, pworld: World, db: Database) -> None:
    c = portal("a-member")
    form = c.get("/jobs/new")
    assert 'for="command"' in form.text and 'id="command"' in form.text
    r = c.post("/jobs", data={"csrf": csrf_of(form.text), "project_id": pworld.a.project_id,
                              "command": "python -c 'print(1)'", "name": "from-portal", "flavors": "cpu",
                              "cpus": 2, "memory_gb": 2, "time_limit_min": 30}, follow_redirects=False)
    assert r.status_code == 303, r.text
    job_id = int(r.headers["location"].split("/")[2].split("?")[0])
    with db.read() as s:
        from aicc.store.models import JobRow

        row = s.get(JobRow, job_id)
        assert row is not None and row.command == ["python", "-c", "print(1)"] and row.time_limit_s == 1800
        assert row.flavors == ["cpu"] and row.memory_mb == 2048 and row.cpus == 2
    page = c.get(r.headers["location"])
    assert "from-portal" in page.text and "다음 스케줄링 주기를 기다리는 중" in page.text
    assert "작업 취소" in page.text and 'data-active="true"' in page.text
    assert job_id in _ids(c.get("/jobs").text)


def test_submit_errors_come_back_on_the_form_in_the_users_language(portal: Portal, pworld: World) -> None:
    c = portal("a-member")
    csrf = csrf_of(c.get("/jobs/new").text)
    r = c.post("/jobs", data={"csrf": csrf, "project_id": pworld.a.project_id, "command": "echo 'open"})
    assert r.status_code == 422 and "따옴표" in r.text and "echo &#39;open" in r.text
    r = c.post("/jobs", data={"csrf": csrf, "project_id": pworld.a.project_id, "command": "train",
                              "flavors": "h100", "accelerators": 64})
    assert r.status_code == 422 and "h100" in r.text and 'role="alert"' in r.text


def test_list_filters_sorts_and_pages(portal: Portal, pworld: World, db: Database, settings: Settings) -> None:
    ids = submit(db, settings, pworld.a.member_token, pworld.a.project_id, "bulk", n=30)
    with db.write() as s:
        from aicc.services import tokens

        jobs.cancel(s, tokens.authenticate(s, pworld.a.member_token), ids[0])
    c = portal("a-member")
    first = c.get("/jobs")
    assert _ids(first.text) == sorted(ids, reverse=True)[:25]
    assert "2쪽 중 1쪽" in first.text and 'rel="next"' in first.text
    assert _ids(c.get("/jobs?page=2").text) == sorted(ids, reverse=True)[25:]
    assert _ids(c.get("/jobs?sort=id&dir=asc").text)[:3] == ids[:3]
    assert 'aria-sort="ascending"' in c.get("/jobs?sort=id&dir=asc").text
    assert _ids(c.get("/jobs?state=cancelled").text) == [ids[0]]
    assert _ids(c.get("/jobs?sort=name&dir=asc").text)[:2] == [ids[0], ids[1]]  # bulk0, bulk1, bulk10…
    assert _ids(c.get(f"/jobs?project={pworld.b.project_id}").text) == []
    assert _ids(c.get("/jobs?sort=bogus&page=999").text) == sorted(ids, reverse=True)[25:]  # clamped, default sort
    assert c.get("/jobs?dir=sideways").status_code == 400


def test_cancel_from_the_job_page(portal: Portal, pworld: World, db: Database, settings: Settings) -> None:
    job = submit(db, settings, pworld.a.member_token, pworld.a.project_id, "to-cancel")[0]
    c = portal("a-member")
    page = c.get(f"/jobs/{job}")
    r = c.post(f"/jobs/{job}/cancel", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    after = c.get(r.headers["location"])
    assert "취소를 요청했습니다" in after.text and "state-cancelled" in after.text and "작업 취소" not in after.text
    polled = c.get(f"/jobs/{job}/log").json()
    assert {k: v for k, v in polled.items() if k not in ("facts", "note")} == {
        "data": "", "next_offset": 0, "size": 0, "finished": True, "state": "cancelled", "state_label": "취소됨",
        "reason": "a-member님이 취소함"}
    assert polled["facts"]["job-exit"] == "–" and polled["facts"]["job-ended"] != "–"


def test_log_endpoint_returns_new_bytes_from_an_offset(portal: Portal, pworld: World, db: Database,
                                                       settings: Settings) -> None:
    job = submit(db, settings, pworld.a.member_token, pworld.a.project_id, "talky")[0]
    folder = jobs.job_dir(settings, job)
    folder.mkdir(parents=True)
    (folder / "stdout.log").write_text("hello\nworld\n")
    c = portal("a-member")
    assert "hello\nworld" in c.get(f"/jobs/{job}").text
    chunk = c.get(f"/jobs/{job}/log", params={"offset": 6}).json()
    assert chunk["data"] == "world\n" and chunk["next_offset"] == 12 and not chunk["finished"]


def test_dashboard_shows_my_jobs_and_budget_burn_down(portal: Portal, pworld: World, db: Database,
                                                      settings: Settings) -> None:
    submit(db, settings, pworld.a.member_token, pworld.a.project_id, "dash", n=3)
    page = portal("a-member").get("/", headers={"Accept-Language": "en"})
    assert '<span class="big">3</span> pending' in page.text
    assert 'role="img"' in page.text and "Burn-down of grant a" in page.text
    assert "1,000" in page.text  # the budget, formatted


def test_center_page_shows_utilization_queue_and_allocations(portal: Portal, pworld: World, db: Database,
                                                             settings: Settings) -> None:
    submit(db, settings, pworld.a.member_token, pworld.a.project_id, "queued", n=4)
    page = portal("root").get("/center?days=30", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "Utilization per flavor, last 30 days" in page.text and 'aria-labelledby="util-title util-desc"' in page.text
    assert "proj-a" in page.text and "Pending jobs by project" in page.text
    assert "Under-used allocations" in page.text and "Allocations near exhaustion" in page.text


def test_slots_for_programs_and_data_zone_say_what_is_coming(portal: Portal) -> None:
    c = portal("a-member")
    assert "지원사업" in c.get("/programs").text
    assert "데이터 안심구역" in c.get("/datazone").text
