"""Interactive sessions in a real browser: JupyterLab (from PyPI, scripts/install-jupyter) through the proxy.

A student starts a session from the portal, opens it in one click, runs a cell and sees ``45`` come back over
the kernel's websocket; another student gets 404 on its URL and on its websocket; a session left idle is
stopped by the server. Against `aicc server` with its controller, runs isolated under the project's uid.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from aicc.config import load_settings
from tests.cli.conftest import AICC, free_port
from tests.live_server import aicc_server
from tests.portal.test_browser import SHOTS, Center, _page, _sign_in, browser  # noqa: F401 - the browser fixture

JUPYTER = Path(load_settings({}).session_jupyter)


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Center]:
    assert JUPYTER.exists(), "run scripts/install-jupyter (CI does)"
    home = tmp_path_factory.mktemp("sessions")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICC_")}
    env.update(AICC_HOME=str(home / "var"), AICC_CONFIG_DIR=str(home / "config"), AICC_TICK_SECONDS="0.5",
               AICC_SESSION_POLL="1")
    subprocess.run([AICC, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60)
    demo = subprocess.run([AICC, "demo", "--url", url], env=env, check=True, capture_output=True, text=True,
                          timeout=60)
    m = re.search(r"with password (\S+)", demo.stdout)
    assert m, demo.stdout
    with aicc_server(AICC, env, url, port, home / "server.log"):
        yield Center(url, m.group(1), env)
        _stop_every_run(url, home / "config" / "credentials.json")


def _stop_every_run(url: str, credentials: Path) -> None:
    """Runs outlive a server by design (a restarted one re-adopts them): a test's must not outlive the test."""
    admin = httpx.Client(base_url=url + "/api/v1", timeout=30, headers={
        "Authorization": "Bearer " + json.loads(credentials.read_text())["token"]})
    live = [j["id"] for j in admin.get("/jobs", params={"state": ["running", "admitted", "pending"]}).json()["items"]]
    for job_id in live:
        admin.post(f"/jobs/{job_id}/cancel")
    deadline = time.monotonic() + 30
    while live and time.monotonic() < deadline:
        live = [j for j in live if admin.get(f"/jobs/{j}").json()["state"] in ("running", "admitted", "pending")]
        time.sleep(0.5)


def _cookie(page: Page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "aicc_session")


def _ws_status(center: Center, path: str, cookie: str | None) -> int:
    """The HTTP status a websocket handshake to ``path`` gets (101 when it opens)."""
    headers = {"Cookie": f"aicc_session={cookie}"} if cookie else {}
    try:
        with connect(center.url.replace("http", "ws", 1) + path, additional_headers=headers, open_timeout=10):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


def test_student_runs_a_cell_in_jupyterlab_and_another_student_gets_404(browser: Browser,  # noqa: F811
                                                                          center: Center) -> None:
    bob = _page(browser)
    bob.set_default_timeout(60_000)
    _sign_in(bob, center, "bob")
    bob.get_by_role("navigation", name="주 메뉴").get_by_role("link", name="세션").click()
    form = bob.locator("form[action='/sessions']")
    form.get_by_label("프로젝트").select_option(label="haneul-llm")
    form.get_by_label("종류", exact=True).select_option("jupyter")
    form.get_by_role("button", name="세션 시작").click()
    expect(bob.get_by_role("status")).to_contain_text("요청했습니다")
    session_id = int(re.search(r"started=(\d+)", bob.url).group(1))  # type: ignore[union-attr]
    row = bob.locator(f"#session-{session_id}")
    open_link = row.get_by_role("link", name="열기")
    expect(open_link).to_be_visible(timeout=120_000)  # the page refreshes itself until the session is ready
    expect(row).to_contain_text("준비됨")
    assert open_link.get_attribute("href") == f"/s/{session_id}/lab"
    bob.screenshot(path=str(SHOTS / "30-session-ready.png"), full_page=True)

    with bob.context.expect_page() as opened:
        open_link.click()
    lab = opened.value
    lab.set_default_timeout(90_000)
    assert "token" not in lab.url
    lab.locator(".jp-LauncherCard[data-category='Notebook']").first.click()
    # the kernel's status arrives over its websocket (through the proxy): Idle means it is connected
    expect(lab.get_by_role("button", name=re.compile(r"Python 3 \(ipykernel\) \| Idle"))).to_be_visible(
        timeout=120_000)
    cell = lab.locator(".jp-Notebook .jp-Cell").first.locator(".cm-content")
    cell.click()
    lab.keyboard.type("sum(range(10))")
    expect(cell).to_have_text("sum(range(10))")
    lab.keyboard.press("Shift+Enter")
    expect(lab.locator(".jp-OutputArea-output").first).to_have_text("45", timeout=120_000)
    lab.screenshot(path=str(SHOTS / "31-jupyterlab-cell.png"))
    kernels = httpx.get(f"{center.url}/s/{session_id}/api/kernels", cookies={"aicc_session": _cookie(bob)}).json()
    assert kernels and kernels[0]["connections"] >= 1  # the page's kernel websocket goes through the proxy
    channels = f"/s/{session_id}/api/kernels/{kernels[0]['id']}/channels"

    alice = _page(browser)
    _sign_in(alice, center, "alice")
    response = alice.goto(f"{center.url}/s/{session_id}/lab")
    assert response is not None and response.status == 404
    refused = response.text()
    missing = alice.goto(f"{center.url}/s/999999/lab")
    assert missing is not None and missing.status == 404 and missing.text() == refused
    assert _ws_status(center, channels, _cookie(alice)) == 404
    assert _ws_status(center, "/s/999999/api/kernels/x/channels", _cookie(alice)) == 404
    assert _ws_status(center, channels, None) == 404
    assert _ws_status(center, channels, _cookie(bob)) == 101

    bob.goto(center.url + "/sessions")
    bob.locator(f"#session-{session_id}").get_by_role("button", name="중지").click()
    expect(bob.get_by_role("status")).to_contain_text("중지하는 중")
    for p in (lab, bob, alice):
        p.context.close()


def test_an_idle_session_is_stopped_by_the_server(browser: Browser, center: Center) -> None:  # noqa: F811
    bob = _page(browser)
    _sign_in(bob, center, "bob")
    api = httpx.Client(base_url=center.url + "/api/v1", headers={"Authorization": f"Bearer {_cookie(bob)}"})
    started = api.post("/sessions", json={"project": "haneul-llm", "idle_limit_s": 15, "time_limit_s": 3600})
    assert started.status_code == 201, started.text
    sid = started.json()["id"]
    deadline, seen = time.monotonic() + 180, set()
    while time.monotonic() < deadline:
        s = api.get(f"/sessions/{sid}").json()
        seen.add(s["phase"])
        if s["phase"] == "ended":
            break
        time.sleep(1)
    assert "ready" in seen and s["phase"] == "ended", s
    assert s["state"] == "cancelled" and "without activity" in s["ended_why"]
    job = api.get(f"/jobs/{sid}").json()
    assert job["kind"] == "session" and job["reason_code"] == "session_idle"
    bob.goto(center.url + "/sessions")
    expect(bob.locator(f"#session-{sid}")).to_contain_text("without activity")
    bob.context.close()
