"""Korean pages a new center hits first: forms that keep what was typed and explain in Korean, particles that
fit the number, a job page that follows its job to the end, dates shown as dates, budgets counted as the CLI
counts them, and the admin pages' title, ids, chart and empty messages."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import update

from aicc.config import Settings
from aicc.core.allocations import FlavorQuota
from aicc.portal import i18n
from aicc.services import allocations
from aicc.services.principal import SYSTEM
from aicc.store.db import Database
from aicc.store.models import JobRow, utcnow
from tests.portal.conftest import csrf_of
from tests.portal.helpers import submit
from tests.world import World

Portal = Callable[[str | None], TestClient]
STATIC = Path(__file__).resolve().parents[2] / "src" / "aicc" / "portal" / "static"


def _post(c: TestClient, pworld: World, **fields: object) -> object:
    csrf = csrf_of(c.get("/jobs/new").text)
    data = {"csrf": csrf, "project_id": pworld.a.project_id, "command": "python train.py", "flavors": "cpu",
            "cpus": 1, "memory_gb": 1, "time_limit_min": 60, **fields}
    return c.post("/jobs", data=data, follow_redirects=False)


def test_the_time_field_allows_what_the_center_allows(portal: Portal, settings: Settings) -> None:
    form = portal("a-member").get("/jobs/new").text
    assert f'max="{settings.max_time_limit_s // 60}"' in form and 'max="527040"' not in form


def test_a_value_past_the_browsers_checks_keeps_the_form_and_names_the_field(portal: Portal, pworld: World,
                                                                            settings: Settings) -> None:
    c = portal("a-member")
    for wrong in ("999999", "12.5", "lots"):
        r = _post(c, pworld, time_limit_min=wrong, name="내 작업")
        assert r.status_code == 422  # type: ignore[attr-defined]
        text = r.text  # type: ignore[attr-defined]
        limit = f"{settings.max_time_limit_s // 60:,}"
        assert "시간 제한 (분)" in text and f"1부터 {limit}까지의 정수" in text and 'role="alert"' in text
        assert 'value="python train.py"' in text and 'value="내 작업"' in text  # what was typed stays


def test_service_refusals_on_the_form_are_in_korean(portal: Portal, pworld: World) -> None:
    r = _post(portal("a-member"), pworld, flavors="h100", accelerators=64)
    text = r.text  # type: ignore[attr-defined]
    assert "h100의 가속기는 모두 8개뿐입니다" in text and "accelerators in all" not in text
    r = _post(portal("a-member"), pworld, name="a/b")
    assert "작업 이름" in r.text and "letters of any language" not in r.text  # type: ignore[attr-defined]


def test_a_job_name_in_korean_is_accepted_from_the_form(portal: Portal, pworld: World) -> None:
    r = _post(portal("a-member"), pworld, name="폐렴 분류 1차")
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    page = portal("a-member").get(r.headers["location"]).text  # type: ignore[attr-defined]
    assert "폐렴 분류 1차" in page


def test_particles_follow_the_final_sound_of_the_number() -> None:
    assert i18n.job_reason("ko", "exited", {"code": 3}, "") == "종료 코드 3으로 끝남"
    assert i18n.job_reason("ko", "exited", {"code": 1}, "") == "종료 코드 1로 끝남"  # 일: ㄹ takes 로
    assert i18n.job_reason("ko", "exited", {"code": 2}, "") == "종료 코드 2로 끝남"
    assert i18n.josa("값을(를) 코드을(를) 서울(으)로 부산(으)로 10(으)로 cpu이(가)") == \
        "값을 코드를 서울로 부산으로 10으로 cpu이(가)"  # a Latin word keeps both forms


def test_the_job_page_follows_its_job_to_the_end(portal: Portal, pworld: World, db: Database,
                                                 settings: Settings) -> None:
    (job_id,) = submit(db, settings, pworld.a.member_token, pworld.a.project_id, "short")
    c = portal("a-member")
    page = c.get(f"/jobs/{job_id}?submitted=1").text
    for fact in ("job-started", "job-ended", "job-exit", "job-ran-on", "job-flash"):
        assert f'id="{fact}"' in page
    now = utcnow()
    with db.write() as s:
        s.execute(update(JobRow).where(JobRow.id == job_id).values(
            state="succeeded", flavor="cpu", started_at=now - dt.timedelta(minutes=1), ended_at=now, exit_code=0,
            reason="completed"))
    d = c.get(f"/jobs/{job_id}/log?stream=stdout&offset=0").json()
    assert d["finished"] and d["facts"]["job-exit"] == "0" and d["facts"]["job-ran-on"] == "cpu"
    assert d["facts"]["job-started"] != "–" and d["facts"]["job-ended"] != "–" and d["note"]
    script = (STATIC / "portal.js").read_text()
    assert "d.facts" in script and "job-flash" in script and "log-note" in script


def test_the_programs_page_has_a_plain_title_and_unique_ids(portal: Portal) -> None:
    page = portal("root").get("/programs").text
    title = re.search(r"<title>(.*?)</title>", page, re.S)
    assert title and "<" not in title.group(1) and "form" not in title.group(1)
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_an_allocation_that_has_not_begun_is_counted_apart_as_the_cli_does(portal: Portal, pworld: World,
                                                                           db: Database) -> None:
    now = utcnow()
    with db.write() as s:
        allocations.create(s, SYSTEM, project_id=pworld.a.project_id, name="next year", budget_su=5000,
                           starts_at=now + dt.timedelta(days=40), ends_at=now + dt.timedelta(days=400), weight=1.0,
                           quotas={"cpu": FlavorQuota(8, 0)})
    page = portal("a-member").get("/projects").text
    row = next(r for r in page.split("<tr>") if "proj-a" in r)
    cells = re.findall(r'<td class="num">([^<]*)', row)
    assert cells[:2] == ["1,000", "1,000"], cells  # remaining and budget of what has begun
    assert "부터 +5,000" in row


def test_end_dates_are_shown_as_dates_not_times(portal: Portal) -> None:
    page = portal("a-member").get("/").text
    ends = re.findall(r'<time datetime="[^"]+">([^<]+)</time></td>\s*</tr>', page)
    assert ends and all("오전" not in e and "오후" not in e for e in ends), ends


def test_center_page_chart_stays_readable_on_a_phone_and_empty_lists_say_what_is_empty(portal: Portal) -> None:
    page = portal("root").get("/center").text
    m = re.search(r'<svg class="chart" viewBox="0 0 (\d+) \d+"[^>]*aria-labelledby="util-title', page)
    assert m and int(m.group(1)) <= 600  # drawn at the width the phone keeps (12px labels)
    css = (STATIC / "portal.css").read_text()
    assert re.search(r"figure\.chart-scroll svg\.chart \{ min-width: 600px; \}", css)
    assert "chart-scroll" in page
    assert "소진이 가까운 배정이 없습니다." in page and "사용이 저조한 배정이 없습니다." in page
    assert "배정된 자원이 없습니다." not in page  # there are allocations
