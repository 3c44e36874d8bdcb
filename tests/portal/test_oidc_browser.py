"""The institutional sign-in journey in Chromium: a live `aicc server` (the demo center) and a real OpenID
provider (oidc-provider on Node): sign in at the provider, land on the dashboard with the organization the
provider's groups map to, sign out here and at the provider."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.cli.conftest import AICC, free_port
from tests.live_server import aicc_server
from tests.oidc_provider import Op, oidc_provider
from tests.portal.test_browser import SHOTS, _page, browser  # noqa: F401 (the shared Chromium fixture)

SECRET = "browser-test-client-secret-0123456789"


@pytest.fixture(scope="module")
def center_with_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Op]]:
    home = tmp_path_factory.mktemp("oidc-center")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    clients = [{"client_id": "aicc", "client_secret": SECRET, "redirect_uris": [f"{url}/signin/oidc/jnu/callback"],
                "post_logout_redirect_uris": [f"{url}/signin"]}]
    accounts = {"minji": {"email": "minji@jnu.ac.kr", "name": "이민지", "groups": ["jnu-ai-lab"]}}
    with oidc_provider(home, clients=clients, accounts=accounts) as op:
        (home / "oidc.toml").write_text(f"""
[[providers]]
name = "jnu"
label = "전남대학교"
issuer = "{op.issuer}"
client_id = "aicc"
client_secret_env = "AICC_TEST_JNU_SECRET"
scopes = ["openid", "email", "profile", "groups"]
  [[providers.groups]]
  claim = "groups"
  value = "jnu-ai-lab"
  org = "jeonnam-univ"
  role = "member"
""")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AICC_")}
        env.update(AICC_HOME=str(home / "var"), AICC_CONFIG_DIR=str(home / "config"), AICC_CONTROLLER="off",
                   AICC_OIDC_FILE=str(home / "oidc.toml"), AICC_TEST_JNU_SECRET=SECRET, AICC_NOTIFY="off")
        subprocess.run([AICC, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60)
        subprocess.run([AICC, "demo", "--url", url], env=env, check=True, capture_output=True, timeout=60)
        with aicc_server(AICC, env, url, port, home / "server.log"):
            yield url, op
        assert SECRET not in (home / "server.log").read_text()


def test_member_signs_in_with_the_institution_and_out_again(browser: Browser,  # noqa: F811
                                                            center_with_idp: tuple[str, Op]) -> None:
    url, op = center_with_idp
    page = _page(browser)
    page.goto(url + "/")
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    page.get_by_role("link", name="전남대학교 계정으로 로그인").click()
    expect(page).to_have_url(re.compile("^" + re.escape(op.issuer) + "/interaction/"))
    page.locator("input[name=login]").fill("minji")
    page.locator("input[name=password]").fill("at-the-institution")
    page.get_by_role("button", name="Sign-in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("대시보드")
    expect(page.locator("#my-orgs")).to_contain_text("전남대학교")
    expect(page.locator(".who")).to_have_text("이민지")
    page.screenshot(path=str(SHOTS / "oidc-dashboard.png"), full_page=True)
    page.get_by_role("button", name="로그아웃").click()
    page.get_by_role("button", name="Yes, sign me out").click()  # the provider asks, as providers do
    expect(page).to_have_url(re.compile(re.escape(url) + r"/signin"))
    expect(page.get_by_role("heading", level=1)).to_have_text("로그인")
    page.goto(url + "/")
    expect(page).to_have_url(re.compile(r"/signin\?next="))  # the session is gone here
    page.get_by_role("link", name="전남대학교 계정으로 로그인").click()
    expect(page.locator("input[name=login]")).to_be_visible()  # and at the provider: it asks again
    page.context.close()
