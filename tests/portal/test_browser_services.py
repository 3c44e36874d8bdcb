"""A service made in the portal, in a real browser: create, wait for its replica, make a key (shown once),
call the service through the gateway with it, stop it. Against `aicc server` with its controller."""

from __future__ import annotations

import re
import sys
import time

import httpx
from playwright.sync_api import Browser, expect

from tests.portal.test_browser import SHOTS, Center, _page, _sign_in, browser, center  # noqa: F401 - fixtures


def test_a_member_creates_a_service_in_the_portal_and_calls_it_with_a_key_made_there(
        browser: Browser, center: Center) -> None:  # noqa: F811
    page = _page(browser)
    _sign_in(page, center, "bob")
    page.goto(center.url + "/services")
    page.get_by_label("프로젝트").select_option(label="haneul-llm")
    page.get_by_label("이름", exact=True).fill("echo")
    page.get_by_label("명령").fill(f"{sys.executable} -m aicc.testbed.serve --no-model --port 8000")
    page.get_by_label("가속기 종류").select_option("cpu")
    page.get_by_role("button", name="서비스 만들기").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("echo")
    expect(page.get_by_role("status")).to_contain_text("서비스를 만들었습니다")
    detail = page.url
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # the list counts replicas in rotation: "1 / 1" once ready
        page.goto(center.url + "/services")
        if page.locator("tr", has_text="echo").filter(has_text="1 / 1").count():
            break
        time.sleep(1)
    expect(page.locator("tr", has_text="echo")).to_contain_text("1 / 1")
    page.goto(detail)
    page.get_by_label("키 이름").fill("demo")
    page.get_by_role("button", name="키 만들기").click()
    key = page.locator("#new-key code").inner_text()
    assert re.fullmatch(r"aicc_svc_\w+_[\w-]+", key), key
    page.screenshot(path=str(SHOTS / "services-key-ko.png"), full_page=True)
    answer = httpx.get(center.url + "/svc/haneul-llm/echo/v1/version", headers={"Authorization": f"Bearer {key}"},
                       timeout=30)
    assert answer.status_code == 200 and answer.json() == {"version": "1"}, answer.text
    page.goto(detail)
    assert key not in page.content()  # shown once only
    page.get_by_role("button", name="중지").click()
    expect(page.get_by_role("status")).to_contain_text("서비스를 멈췄습니다")
