"""The main journeys in a real browser: Debian's Chromium, headless, driven by Playwright, against a live server.

Not skipped when Chromium is missing: CI installs it (scripts/install-chromium), and a
portal nobody opened in a browser is not tested. Screenshots land in
test-artifacts/portal/ for a person to look at.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.cli.conftest import AICC, free_port
from tests.live_server import aicc_server

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "portal"


@dataclass
class Center:
    url: str
    password: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Center]:
    """`aicc demo` (which prints one portal password for its accounts) and `aicc server` with its controller."""
    home = tmp_path_factory.mktemp("portal-center")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICC_")}
    env.update(AICC_HOME=str(home / "var"), AICC_CONFIG_DIR=str(home / "config"), AICC_TICK_SECONDS="0.5")
    subprocess.run([AICC, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60)
    demo = subprocess.run([AICC, "demo", "--url", url], env=env, check=True, capture_output=True, text=True,
                          timeout=60)
    m = re.search(r"with password (\S+)", demo.stdout)
    assert m, demo.stdout
    with aicc_server(AICC, env, url, port, home / "server.log"):
        yield Center(url, m.group(1), env)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "run scripts/install-chromium (CI does)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def _page(browser: Browser, *, width: int = 1280, height: int = 860, lang: str = "ko-KR") -> Page:
    context = browser.new_context(viewport={"width": width, "height": height}, locale=lang)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def _sign_in(page: Page, center: Center, username: str) -> None:
    page.goto(center.url + "/")
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    page.get_by_label(re.compile("사용자 이름|Username")).fill(username)
    page.get_by_label(re.compile("비밀번호|Password")).fill(center.password)
    page.get_by_role("button", name=re.compile("로그인|Sign in")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("대시보드|Dashboard"))


def test_member_submits_watches_and_cancels_a_job(browser: Browser, center: Center) -> None:
    page = _page(browser)
    _sign_in(page, center, "bob")
    page.screenshot(path=str(SHOTS / "01-dashboard-ko.png"), full_page=True)
    page.get_by_role("navigation", name="주 메뉴").get_by_role("link", name="작업 제출").click()
    page.get_by_label("프로젝트").select_option(label="haneul-llm — Korean legal-domain LLM fine-tuning")
    page.get_by_label("명령").fill("sh -c 'echo hello-from-the-portal; sleep 120'")
    page.get_by_label("이름 (선택)").fill("browser-job")
    page.get_by_label("h100").check()
    page.get_by_label("가속기", exact=True).fill("1")
    page.get_by_label("시간 제한 (분)").fill("10")
    page.screenshot(path=str(SHOTS / "02-submit-form.png"), full_page=True)
    page.get_by_role("button", name="제출").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("browser-job")
    job_url = page.url.split("?")[0]
    # the page's script polls the log and the state while the job runs
    expect(page.locator("#job-log")).to_contain_text("hello-from-the-portal", timeout=30_000)
    expect(page.locator("#job-state")).to_contain_text("실행 중")
    page.screenshot(path=str(SHOTS / "03-job-running.png"), full_page=True)

    page.get_by_role("link", name="작업", exact=True).click()
    row = page.get_by_role("row").filter(has_text="browser-job")
    expect(row).to_have_count(1)
    page.get_by_label("상태").select_option("running")
    page.get_by_role("button", name="적용").click()
    expect(page.get_by_role("row").filter(has_text="browser-job")).to_have_count(1)
    page.screenshot(path=str(SHOTS / "04-job-list.png"), full_page=True)
    page.get_by_role("row").filter(has_text="browser-job").get_by_role("link", name="browser-job").click()
    assert page.url.split("?")[0] == job_url

    page.get_by_role("button", name="작업 취소").click()
    expect(page.get_by_role("status").first).to_contain_text("취소를 요청했습니다")
    expect(page.locator("#job-state")).to_contain_text("취소됨", timeout=30_000)
    page.screenshot(path=str(SHOTS / "05-job-cancelled.png"), full_page=True)
    page.context.close()


def test_language_switch_and_keyboard_use(browser: Browser, center: Center) -> None:
    page = _page(browser)
    _sign_in(page, center, "alice")
    assert page.locator("html").get_attribute("lang") == "ko"
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    assert page.locator("html").get_attribute("lang") == "en"
    page.screenshot(path=str(SHOTS / "06-dashboard-en.png"), full_page=True)
    # keyboard: the first Tab reaches the skip link, which moves focus to the content
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    page.get_by_role("link", name="한국어").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("대시보드")
    page.context.close()


def test_admin_reads_utilization(browser: Browser, center: Center) -> None:
    page = _page(browser)
    _sign_in(page, center, "admin")
    page.get_by_role("link", name="센터 운영").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("센터 운영")
    expect(page.get_by_role("img", name=re.compile("가속기 종류별 가동률"))).to_be_visible()
    expect(page.get_by_role("heading", name="프로젝트별 대기열")).to_be_visible()
    page.get_by_text("가동률 (표)").click()
    expect(page.get_by_role("rowheader", name="h100")).to_be_visible()
    page.screenshot(path=str(SHOTS / "07-center-utilization.png"), full_page=True)
    page.context.close()


def test_phone_width_has_no_sideways_scrolling(browser: Browser, center: Center) -> None:
    page = _page(browser, width=390, height=844)
    _sign_in(page, center, "bob")
    for path in ["/", "/jobs", "/jobs/new"]:
        page.goto(center.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (path, overflow)
    page.goto(center.url + "/")
    page.screenshot(path=str(SHOTS / "08-dashboard-phone.png"), full_page=True)
    page.context.close()


def test_cli_sets_a_portal_password_the_browser_then_uses(browser: Browser, center: Center) -> None:
    """`aicc admin users set-password` (as the demo's admin) goes through the API; dana signs in with it."""
    subprocess.run([AICC, "admin", "users", "set-password", "dana", "--password-stdin"], env=center.env,
                   input="dana's new passphrase\n", check=True, capture_output=True, text=True, timeout=60)
    page = _page(browser, lang="en-US")
    _sign_in(page, Center(center.url, "dana's new passphrase", center.env), "dana")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")  # Accept-Language: en
    page.context.close()


A11Y_PROBLEMS = """() => {
  const problems = [];
  const name = (el) => (el.getAttribute('aria-label') || el.textContent || el.getAttribute('title') || '').trim();
  if (!document.documentElement.lang) problems.push('html without lang');
  if (document.querySelectorAll('h1').length !== 1) problems.push('not exactly one h1');
  if (document.querySelectorAll('main').length !== 1) problems.push('not exactly one main');
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    if (!el.labels.length && !el.getAttribute('aria-label')) problems.push('unlabelled field ' + (el.id || el.name));
  }
  for (const el of document.querySelectorAll('a, button')) {
    if (!name(el)) problems.push('nameless ' + el.tagName + ' ' + el.outerHTML.slice(0, 80));
  }
  for (const el of document.querySelectorAll('[role=img]')) {
    const ids = (el.getAttribute('aria-labelledby') || '').split(' ').filter(Boolean);
    if (!ids.length || ids.some(id => !(document.getElementById(id) || {}).textContent)) problems.push('unnamed chart');
  }
  for (const t of document.querySelectorAll('table')) {
    const caption = t.querySelector('caption');
    if (!caption || !caption.textContent.trim()) problems.push('table without caption');
  }
  return problems;
}"""


def test_every_page_has_landmarks_labels_and_names(browser: Browser, center: Center) -> None:
    page = _page(browser)
    _sign_in(page, center, "admin")
    paths = ["/", "/jobs", "/jobs/new", "/projects", "/projects/1", "/orgs", "/orgs/1", "/center", "/account",
             "/programs", "/datazone"]
    page.goto(center.url + "/jobs")
    first_job = page.locator("table.jobs tbody a").first
    if first_job.count():
        paths.append(first_job.get_attribute("href") or "/")
    for path in paths:
        page.goto(center.url + path)
        assert page.evaluate(A11Y_PROBLEMS) == [], path
    # focus is visible: a keyboard user sees where they are
    page.goto(center.url + "/")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), outline
    page.context.close()


def test_job_page_fills_in_the_end_while_open(browser: Browser, center: Center) -> None:
    """Opened while the job waits, the page shows its start, end and exit code once it has ended, and drops the
    "waits for the next cycle" banner, without a reload."""
    page = _page(browser)
    _sign_in(page, center, "bob")
    page.goto(center.url + "/jobs/new")
    page.get_by_label("프로젝트").select_option(label="haneul-llm — Korean legal-domain LLM fine-tuning")
    page.get_by_label("명령").fill("sh -c 'sleep 2; exit 3'")
    page.get_by_label("이름 (선택)").fill("짧은 작업")
    page.get_by_role("checkbox", name=re.compile(r"^cpu ")).check()
    page.get_by_role("button", name="제출").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("짧은 작업")
    expect(page.locator("#job-state")).to_contain_text("실패", timeout=30_000)
    expect(page.locator("#job-exit")).to_have_text("3")
    expect(page.locator("#job-ended")).not_to_have_text("–")
    expect(page.locator("#job-started")).not_to_have_text("–")
    expect(page.locator("#job-flash")).to_be_hidden()
    expect(page.locator("#job-reason")).to_have_text("종료 코드 3으로 끝남")
    page.context.close()


def test_utilization_chart_labels_are_readable_at_phone_width(browser: Browser, center: Center) -> None:
    page = _page(browser, width=390, height=844)
    _sign_in(page, center, "admin")
    page.goto(center.url + "/center")
    heights = page.evaluate("[...document.querySelectorAll('svg[aria-labelledby^=\"util-title\"] text.tick')]"
                            ".map(t => t.getBoundingClientRect().height)")
    assert heights and min(heights) >= 10, heights  # 12px labels, not a 900-unit drawing squeezed to 360px
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.screenshot(path=str(SHOTS / "09-center-phone.png"), full_page=True)
    page.context.close()
