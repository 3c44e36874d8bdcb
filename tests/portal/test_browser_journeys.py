"""Two journeys in a real browser (headless Debian Chromium), against `aicc server` with its controller.

1. A support program: an organization applies, a reviewer scores, the center awards, the
   organization accepts the agreement, and a job of the project runs on the new allocation,
   whose use then shows on the dashboard.
2. The secure data zone: a job on the demo's sensitive cohort writes a summary and a symlink;
   the custodian releases the summary (the symlink cannot be approved) and the analyst
   downloads it.

The program and its call are set up through the services (as a manager would with the CLI);
everything else is done on the pages. Screenshots land in test-artifacts/portal/.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from aicc.config import load_settings
from aicc.core import programs as rules
from aicc.core.tenancy import CenterRole
from aicc.demo import REVIEWERS
from aicc.services import programs, projects, users
from aicc.services.audit_seal import AuditSeal
from aicc.services.principal import SYSTEM
from aicc.store.db import Database
from aicc.store.models import UserRow, utcnow
from tests.cli.conftest import AICC, free_port
from tests.live_server import aicc_server
from tests.portal.test_browser import SHOTS, Center, _page, _sign_in, browser  # noqa: F401 - the browser fixture


def _set_up_program(env: dict[str, str], password: str) -> None:
    """A program with an open call, a reviewer, and a project of Haneul AI without an allocation yet."""
    settings = load_settings(env)
    db = Database(settings.database_url, audit_seal=AuditSeal.from_settings(settings))  # the server's key
    now = utcnow()
    with db.write() as s:
        p = programs.create_program(s, SYSTEM, name="ai-2027", title="2027 AI 컴퓨팅 자원 지원사업",
                                    description="", budget_su={"h100": 5000.0})
        programs.create_call(
            s, SYSTEM, program_id=p.row.id, name="round-1", title="1차 공모", opens_at=now - dt.timedelta(hours=1),
            closes_at=now + dt.timedelta(days=1), tracks=[rules.Track.INDUSTRY], eligible_kinds=[],
            eligible_regions=[], cap_su=2000.0, rubric_=[rules.Criterion("excellence", 2.0, 10.0),
                                                          rules.Criterion("feasibility", 1.0, 5.0)],
            reviewers_per_application=1)
        judy = users.create(s, SYSTEM, username="judy", display_name="심사위원 Judy", email=None,
                            center_role=CenterRole.REVIEWER)
        judy_row = s.get(UserRow, judy.id)
        assert judy_row is not None
        judy_row.password_hash = users.hash_password(password)
        for name, _ in REVIEWERS:  # the demo's own reviewers step aside: the one application goes to judy
            s.execute(update(UserRow).where(UserRow.username == name).values(disabled=True))
        org_id = projects.get(s, SYSTEM, projects.list_projects(
            s, SYSTEM, after=None, limit=10, organization_id=None, name="haneul-llm").items[0].id).organization_id
        legal = projects.create(s, SYSTEM, organization_id=org_id, name="haneul-legal2",
                                title="Legal LLM, second stage", description="")
        for u in ("alice", "bob"):
            projects.add_member(s, SYSTEM, legal.id, username=u)
    db.dispose()


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Center]:
    home = tmp_path_factory.mktemp("portal-journeys")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICC_")}
    env.update(AICC_HOME=str(home / "var"), AICC_CONFIG_DIR=str(home / "config"), AICC_TICK_SECONDS="0.5")
    subprocess.run([AICC, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60)
    demo = subprocess.run([AICC, "demo", "--url", url], env=env, check=True, capture_output=True, text=True,
                          timeout=60)
    m = re.search(r"with password (\S+)", demo.stdout)
    assert m, demo.stdout
    _set_up_program(env, m.group(1))
    with aicc_server(AICC, env, url, port, home / "server.log"):
        yield Center(url, m.group(1), env)


def _as(browser: Browser, center: Center, username: str) -> Page:  # noqa: F811
    page = _page(browser)
    _sign_in(page, center, username)
    return page


def test_apply_review_award_accept_then_a_job_spends_the_new_budget(browser: Browser,  # noqa: F811
                                                                    center: Center) -> None:
    alice = _as(browser, center, "alice")
    alice.get_by_role("navigation", name="주 메뉴").get_by_role("link", name="지원사업").click()
    alice.get_by_role("link", name="1차 공모").first.click()
    form = alice.locator("form[action$='/applications']")
    form.get_by_label("프로젝트").select_option(label="haneul-legal2 — Legal LLM, second stage")
    form.get_by_label("제목").fill("법률 특화 LLM 2단계")
    form.get_by_label("h100: SU").fill("1000")
    form.get_by_label("h100: 동시 사용 가속기 수").fill("2")
    form.get_by_label("연구 계획").fill("판례 30만 건으로 7B 모델 미세조정")
    form.get_by_label("참여 인력: 한 줄에 한 명, 이름, 역할").fill("김민지, 책임연구원")
    form.get_by_role("button", name="임시 저장").click()
    expect(alice.get_by_role("status")).to_contain_text("임시 저장했습니다")
    app_url = alice.url.split("?")[0]
    alice.get_by_role("button", name="과제 제출").click()
    expect(alice.get_by_role("heading", level=1)).to_contain_text("제출")
    alice.screenshot(path=str(SHOTS / "10-application-submitted.png"), full_page=True)

    admin = _as(browser, center, "admin")
    admin.goto(center.url + "/programs")
    admin.get_by_role("link", name="1차 공모").first.click()
    call_url = admin.url
    admin.get_by_role("button", name="평가위원 배정 (순환 배정)").click()
    expect(admin.get_by_role("status")).to_contain_text("평가위원을 배정했습니다")

    judy = _as(browser, center, "judy")
    judy.get_by_role("link", name="지원사업").first.click()
    judy.get_by_role("link", name="내 평가 열기").click()
    judy.get_by_role("link", name="법률 특화 LLM 2단계").click()
    judy.get_by_label(re.compile("^excellence")).fill("9")
    judy.get_by_label(re.compile("^feasibility")).fill("4")
    judy.get_by_label(re.compile("^의견")).fill("명확한 계획")
    judy.screenshot(path=str(SHOTS / "11-review-form.png"), full_page=True)
    judy.get_by_role("button", name="점수 제출").click()
    expect(judy.get_by_role("status")).to_contain_text("점수를 제출했습니다")

    admin.goto(call_url)
    admin.get_by_role("button", name="지금 접수 마감").click()
    row = admin.get_by_role("row").filter(has_text="법률 특화 LLM 2단계")
    expect(row).to_contain_text("86.7")
    row.get_by_label("사유 (신청 기관이 봅니다)").fill("계획이 구체적이고 실현 가능함")
    row.get_by_role("button", name="결정").click()
    expect(admin.get_by_role("status")).to_contain_text("결정을 기록했습니다")
    admin.screenshot(path=str(SHOTS / "12-ranking-decided.png"), full_page=True)

    alice.goto(app_url)
    expect(alice.get_by_text("계획이 구체적이고 실현 가능함")).to_be_visible()
    alice.get_by_role("button", name="협약 수락").click()
    expect(alice.get_by_role("status")).to_contain_text("프로젝트에 자원이 배정되었습니다")
    alice.screenshot(path=str(SHOTS / "13-agreement-accepted.png"), full_page=True)

    bob = _as(browser, center, "bob")
    bob.get_by_role("navigation", name="주 메뉴").get_by_role("link", name="작업 제출").click()
    bob.get_by_label("프로젝트").select_option(label="haneul-legal2 — Legal LLM, second stage")
    bob.get_by_label("명령").fill("sh -c 'echo training; sleep 3'")
    bob.get_by_label("h100").check()
    bob.get_by_label("가속기", exact=True).fill("2")
    bob.get_by_label("시간 제한 (분)").fill("5")
    bob.get_by_role("button", name="제출").click()
    expect(bob.locator("#job-state")).to_contain_text("성공", timeout=30_000)
    used = "0"
    for _ in range(20):  # the ledger charges the award's allocation as the controller meters
        bob.goto(center.url + "/")
        budget = bob.get_by_role("row").filter(has_text="round-1: 법률 특화 LLM 2단계")
        expect(budget).to_have_count(1)
        used = budget.locator("td.used").inner_text()
        if float(used.replace(",", "")) > 0:
            break
        time.sleep(0.5)
    assert float(used.replace(",", "")) > 0, used
    bob.screenshot(path=str(SHOTS / "14-dashboard-after-award.png"), full_page=True)
    for p in (alice, admin, judy, bob):
        p.context.close()


JOB = "sh -c 'echo mean length of stay: 5.9 days > /out/summary.txt; ln -s /data/cxr-cohort /out/data-link'"


def test_custodian_releases_one_file_and_the_analyst_downloads_it(browser: Browser,  # noqa: F811
                                                                  center: Center) -> None:
    dana = _as(browser, center, "dana")
    dana.get_by_role("navigation", name="주 메뉴").get_by_role("link", name="작업 제출").click()
    dana.get_by_label("프로젝트").select_option(label="jnu-vision — Chest X-ray triage models")
    dana.get_by_label("명령").fill(JOB)
    dana.get_by_label("데이터셋 (선택, 이름을 쉼표로 구분)").fill("cxr-cohort")
    dana.get_by_label("시간 제한 (분)").fill("5")
    dana.get_by_role("button", name="제출").click()
    expect(dana.locator("#job-state")).to_contain_text("성공", timeout=30_000)
    expect(dana.locator("#held-note")).to_be_visible()  # the log is held too, not shown to the project
    dana.get_by_role("link", name="데이터 안심구역").click()
    outs = dana.get_by_role("region", name="반출 요청")
    for _ in range(20):  # the controller holds the outputs when it sees the job end
        if outs.locator("tbody a").count():
            break
        time.sleep(0.5)
        dana.reload()
    outs.locator("tbody a").first.click()
    out_url = dana.url
    expect(dana.locator("#held-count")).to_contain_text("심의를 위해 보관 중입니다")  # a count, nothing else
    expect(dana.get_by_role("rowheader", name="out/summary.txt")).to_have_count(0)
    expect(dana.get_by_role("link", name=re.compile("내려받기"))).to_have_count(0)  # nothing released yet

    erin = _as(browser, center, "erin")
    erin.goto(out_url)
    link_row = erin.get_by_role("row").filter(has_text="out/data-link")
    expect(link_row).to_contain_text("심볼릭 링크")
    expect(link_row).to_contain_text("불통과")
    expect(link_row.get_by_role("button", name="승인")).to_have_count(0)  # a link is never released
    erin.screenshot(path=str(SHOTS / "20-output-review.png"), full_page=True)
    summary_row = erin.get_by_role("row").filter(has_text="out/summary.txt")
    summary_row.get_by_role("link", name=re.compile("보기")).click()
    expect(erin.locator("pre.log")).to_contain_text("mean length of stay")
    erin.go_back()
    summary_row = erin.get_by_role("row").filter(has_text="out/summary.txt")
    summary_row.get_by_label(re.compile("summary.txt에 대한 의견")).fill("aggregate only, no rows")
    summary_row.get_by_role("button", name="승인").click()
    expect(erin.get_by_role("status")).to_contain_text("파일에 대한 결정을 기록했습니다")
    link_row = erin.get_by_role("row").filter(has_text="out/data-link")
    link_row.get_by_label(re.compile("data-link에 대한 의견")).fill("a link into the data")
    link_row.get_by_role("button", name="반려").click()
    expect(erin.get_by_role("status")).to_contain_text("파일에 대한 결정을 기록했습니다")
    erin.screenshot(path=str(SHOTS / "21-output-decided.png"), full_page=True)

    dana.goto(out_url)
    expect(dana.get_by_role("link", name=re.compile("내려받기"))).to_have_count(1)  # the summary only
    with dana.expect_download() as got:
        dana.get_by_role("link", name="out/summary.txt 내려받기").click()
    path = got.value.path()
    assert path is not None and path.read_text(encoding="utf-8").startswith("mean length of stay")
    dana.screenshot(path=str(SHOTS / "22-output-downloaded.png"), full_page=True)
    erin.goto(center.url + "/datazone/audit?action=output.download")
    expect(erin.get_by_role("cell", name="dana")).to_be_visible()
    for p in (dana, erin):
        p.context.close()


def test_new_pages_fit_a_phone_and_read_in_english(browser: Browser, center: Center) -> None:  # noqa: F811
    """After the journeys above: every new page at 390 px without sideways scrolling; English on request."""
    pages = {"admin": ["/programs", "/programs/1", "/calls/1", "/applications/1", "/reclaims", "/datazone"],
             "erin": ["/datazone", "/datazone/outputs/1", "/datazone/audit",
                      "/datazone/datasets/1"],
             "judy": ["/reviews", "/reviews/1"]}
    for username, paths in pages.items():
        page = _page(browser, width=390, height=844)
        _sign_in(page, center, username)
        for path in paths:
            response = page.goto(center.url + path)
            assert response is not None and response.status == 200, path
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (path, overflow)
        if username == "erin":
            page.goto(center.url + "/datazone/outputs/1")
            page.screenshot(path=str(SHOTS / "23-output-phone.png"), full_page=True)
            page.get_by_role("link", name=re.compile("summary.txt 보기")).click()
            expect(page.locator("pre.log")).to_contain_text("mean length of stay")
            assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        page.context.close()
    page = _page(browser, lang="en-US")
    page.goto(center.url + "/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(center.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Programs").click()
    expect(page.get_by_role("heading", name="Open calls")).to_be_visible()
    page.goto(center.url + "/applications/1")
    expect(page.get_by_role("heading", name=re.compile("^Agreement"))).to_be_visible()
    expect(page.get_by_role("heading", name="Report outcomes")).to_be_visible()
    page.screenshot(path=str(SHOTS / "15-application-en.png"), full_page=True)
    page.context.close()
