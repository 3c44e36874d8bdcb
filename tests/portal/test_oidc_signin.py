"""Institutional sign-in against a real OpenID provider (oidc-provider on Node), through the portal's pages.

The browser's part is played by httpx here (the provider's own login form is posted); the Chromium journey
is in test_oidc_browser.py. Each refusal is checked for its page, its status and that no session was opened.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from aicc.api.app import create_app
from aicc.config import Settings
from aicc.store.db import Database
from aicc.store.models import IdentityRow, JoinRequestRow, MembershipRow, OrganizationRow, UserRow
from tests.oidc_provider import Op, free_port, oidc_provider
from tests.portal.conftest import csrf_of, set_passwords, sign_in
from tests.world import World

SECRET = "client-secret-that-must-never-show-0123456789"
ACCOUNTS = {
    "minsu": {"email": "minsu@uni.example", "name": "Minsu Park", "groups": ["lab-a", "staff"]},
    "amember": {"email": "amember@uni.example", "name": "A Member", "groups": []},
    "guest": {"email": "guest@uni.example", "name": "Guest", "groups": ["visitors"]},
}
CALLBACK = "http://testserver/signin/oidc/uni/callback"


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Op]:
    clients = [{"client_id": "aicc", "client_secret": SECRET, "redirect_uris": [CALLBACK],
                "post_logout_redirect_uris": ["http://testserver/signin"]}]
    with oidc_provider(tmp_path_factory.mktemp("op"), clients=clients, accounts=ACCOUNTS) as provider:
        yield provider


def oidc_file(path: Path, op: Op, extra: str = "") -> Path:
    path.write_text(f"""
[[providers]]
name = "uni"
label = "Uni"
issuer = "{op.issuer}"
client_id = "aicc"
client_secret_env = "TEST_OIDC_SECRET"
scopes = ["openid", "email", "profile", "groups"]
approval_org = "org-b"
  [[providers.groups]]
  claim = "groups"
  value = "lab-a"
  org = "org-a"
  role = "member"
{extra}
""")
    return path


@pytest.fixture
def app_for(settings: Settings, db: Database, world: World, op: Op, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("TEST_OIDC_SECRET", SECRET)
    op.tamper = None
    clients: list[TestClient] = []

    def make(extra: str = "", **changes: object) -> TestClient:
        s = Settings(**{**{f: getattr(settings, f) for f in settings.__dataclass_fields__},  # type: ignore[arg-type]
                        "oidc_file": oidc_file(tmp_path / "oidc.toml", op, extra), **changes})
        client = TestClient(create_app(s, db), raise_server_exceptions=True)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)
    op.tamper = None


def through_provider(client: TestClient, login_name: str, provider: str = "uni") -> str:
    """Start at the portal, sign in on the provider's own form; returns the callback URL it sends back."""
    r = client.get(f"/signin/oidc/{provider}", params={"next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    url = r.headers["location"]
    with httpx.Client(timeout=10) as browser:
        r = browser.get(url)
        for _ in range(10):
            if r.is_redirect:
                url = urljoin(url, r.headers["location"])
                if url.startswith("http://testserver/"):
                    return url
                r = browser.get(url)
            elif 'name="login"' in r.text:
                action = re.search(r'action="([^"]+)"', r.text)
                assert action, r.text
                url = urljoin(url, action.group(1))
                r = browser.post(url, data={"prompt": "login", "login": login_name, "password": "any"})
            else:
                raise AssertionError(f"unexpected page at the provider: {r.status_code} {r.text[:500]}")
    raise AssertionError("the provider never sent the browser back")


def finish(client: TestClient, callback: str) -> httpx.Response:
    return client.get(callback.removeprefix("http://testserver"), follow_redirects=False)


def test_first_sign_in_creates_the_user_with_the_organization_its_groups_map_to(app_for, db: Database) -> None:  # type: ignore[no-untyped-def]
    client = app_for()
    callback = through_provider(client, "minsu")
    assert "iss=" in callback and "code=" in callback
    r = finish(client, callback)
    assert r.status_code == 303 and r.headers["location"] == "/"
    dash = client.get("/", headers={"Accept-Language": "en"})
    assert dash.status_code == 200 and "Dashboard" in dash.text
    assert re.search(r'id="my-orgs">\s*Org A · member', dash.text), dash.text
    with db.read() as s:
        user = s.execute(select(UserRow).where(UserRow.email == "minsu@uni.example")).scalar_one()
        assert user.username == "minsu" and user.display_name == "Minsu Park"
        org_a = s.execute(select(OrganizationRow).where(OrganizationRow.name == "org-a")).scalar_one()
        roles = {m.organization_id: m.role for m in s.execute(
            select(MembershipRow).where(MembershipRow.user_id == user.id)).scalars()}
        assert roles == {org_a.id: "member"}
        assert s.execute(select(IdentityRow.provider).where(IdentityRow.user_id == user.id)).scalars().all() == ["uni"]
    # a second sign-in is the same user, not a new one
    other = app_for()
    assert finish(other, through_provider(other, "minsu")).status_code == 303
    with db.read() as s:
        assert len(s.execute(select(UserRow).where(UserRow.email == "minsu@uni.example")).all()) == 1


def test_sign_in_links_an_existing_account_by_its_verified_email(app_for, db: Database) -> None:  # type: ignore[no-untyped-def]
    with db.write() as s:
        s.execute(select(UserRow).where(UserRow.username == "a-member")).scalar_one().email = "amember@uni.example"
    client = app_for()
    assert finish(client, through_provider(client, "amember")).status_code == 303
    me = client.get("/account", headers={"Accept-Language": "en"})
    assert "a-member" in me.text
    with db.read() as s:
        linked = s.execute(select(UserRow).where(UserRow.email == "amember@uni.example")).scalar_one()
        assert linked.username == "a-member"


def test_a_user_whose_groups_map_to_nothing_waits_for_the_organization_admin(app_for, db: Database,  # type: ignore[no-untyped-def]
                                                                             world: World) -> None:
    client = app_for()
    assert finish(client, through_provider(client, "guest")).status_code == 303
    dash = client.get("/", headers={"Accept-Language": "en"})
    assert "Waiting for Org B to approve your membership." in dash.text
    with db.read() as s:
        org_b = s.execute(select(OrganizationRow).where(OrganizationRow.name == "org-b")).scalar_one()
        req = s.execute(select(JoinRequestRow)).scalar_one()
        assert req.organization_id == org_b.id and req.state == "pending"
    set_passwords(db)
    outsider = sign_in(app_for(), "a-admin")  # another organization's admin: not theirs to decide
    page = outsider.get(f"/orgs/{org_b.id}")
    assert page.status_code == 404
    admin = sign_in(app_for(), "b-admin")
    page = admin.get(f"/orgs/{org_b.id}", headers={"Accept-Language": "en"})
    assert "Asking to join" in page.text and "guest@uni.example" in page.text
    r = admin.post(f"/orgs/{org_b.id}/join-requests/{req.id}/approve", data={"csrf": csrf_of(page.text)},
                   follow_redirects=False)
    assert r.status_code == 303
    dash = client.get("/", headers={"Accept-Language": "en"})
    assert "Org B · member" in dash.text and "Waiting" not in dash.text


@pytest.mark.parametrize(("tamper", "code", "status"), [
    ("other-key", "signature", 401),
    ("wrong-aud", "audience", 401),
    ("expired", "expired", 401),
    ("other-issuer", "issuer", 401),
])
def test_a_forged_or_misdirected_id_token_is_refused_with_a_clear_page(  # type: ignore[no-untyped-def]
        app_for, op: Op, tamper: str, code: str, status: int, caplog: pytest.LogCaptureFixture) -> None:
    client = app_for()
    callback = through_provider(client, "minsu")
    op.tamper = tamper
    with caplog.at_level(logging.INFO):
        r = finish(client, callback)
    assert r.status_code == status
    assert f'data-code="{code}"' in r.text and "로그인 거부" in r.text
    assert "aicc_session" not in r.headers.get("set-cookie", "")
    assert SECRET not in r.text and SECRET not in caplog.text
    assert client.get("/", follow_redirects=False).status_code == 303  # still signed out


def test_a_replayed_callback_is_refused(app_for) -> None:  # type: ignore[no-untyped-def]
    first = app_for()
    callback = through_provider(first, "minsu")
    assert finish(first, callback).status_code == 303
    thief = app_for()
    r = finish(thief, callback)
    assert r.status_code == 400 and 'data-code="state"' in r.text
    assert "aicc_session" not in r.headers.get("set-cookie", "")


def test_an_unknown_provider_or_an_answer_from_another_issuer_is_refused(app_for, op: Op) -> None:  # type: ignore[no-untyped-def]
    client = app_for()
    r = client.get("/signin/oidc/elsewhere", headers={"Accept-Language": "en"})
    assert r.status_code == 404 and "no such identity provider" in r.text
    callback = through_provider(client, "minsu")
    forged = re.sub(r"iss=[^&]+", "iss=http%3A%2F%2Fevil.example", callback)
    r = finish(client, forged)
    assert r.status_code == 401 and 'data-code="issuer"' in r.text


def test_a_misconfigured_provider_shows_why_on_the_sign_in_page_not_a_500(app_for, op: Op) -> None:  # type: ignore[no-untyped-def]
    down = free_port()
    port = op.issuer.rsplit(":", 1)[1]
    extra = f"""
[[providers]]
name = "down"
label = "Down IdP"
issuer = "http://127.0.0.1:{down}"
client_id = "aicc"
client_secret_env = "TEST_OIDC_SECRET"

[[providers]]
name = "renamed"
label = "Renamed IdP"
issuer = "http://localhost:{port}"
client_id = "aicc"
client_secret_env = "TEST_OIDC_SECRET"
"""
    client = app_for(extra)
    for name, why in [("down", "unreachable"), ("renamed", "names issuer")]:
        r = client.get(f"/signin/oidc/{name}", headers={"Accept-Language": "en"})
        assert r.status_code == 503 and 'data-code="provider_down"' in r.text
        page = client.get("/signin", headers={"Accept-Language": "en"})
        assert page.status_code == 200
        assert re.search(rf"Sign-in with {name.capitalize()} IdP is unavailable: [^<]*{why}", page.text), page.text
        assert SECRET not in page.text
    assert 'href="/signin/oidc/uni' in page.text  # the working provider still works


def test_password_sign_in_can_be_switched_off(app_for) -> None:  # type: ignore[no-untyped-def]
    client = app_for(password_signin=False)
    page = client.get("/signin", headers={"Accept-Language": "en"})
    assert 'name="password"' not in page.text and "Sign in with Uni" in page.text
    r = client.post("/signin", data={"username": "a-member", "password": "correct horse battery",
                                     "csrf": client.cookies.get("aicc_presession")}, follow_redirects=False)
    assert r.status_code == 403 and 'data-code="password_off"' in r.text
    assert "aicc_session" not in r.headers.get("set-cookie", "")


def test_signing_out_ends_the_session_here_and_at_the_provider(app_for, op: Op) -> None:  # type: ignore[no-untyped-def]
    client = app_for()
    assert finish(client, through_provider(client, "minsu")).status_code == 303
    page = client.get("/account")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    r = client.post("/signout", data={"csrf": csrf.group(1)}, follow_redirects=False)
    at_provider = re.search(r'<meta http-equiv="refresh" content="0;url=([^"]+)">', r.text)
    assert r.status_code == 200 and at_provider, r.text
    url = html.unescape(at_provider.group(1))
    assert url.startswith(op.issuer + "/session/end?")
    assert "post_logout_redirect_uri=http%3A%2F%2Ftestserver%2Fsignin" in url
    assert client.get("/", follow_redirects=False).status_code == 303
