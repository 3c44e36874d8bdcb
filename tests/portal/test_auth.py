"""Signing in and out, the session cookie, CSRF, and that the API is unchanged beside the portal."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from aicc.config import Settings
from aicc.services import users
from aicc.store.db import Database
from tests.portal.conftest import PASSWORD, csrf_of, sign_in
from tests.portal.helpers import submit
from tests.world import World

Portal = Callable[[str | None], TestClient]


def test_pages_redirect_to_sign_in_and_back(portal: Portal) -> None:
    anon = portal(None)
    r = anon.get("/jobs?state=pending", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/signin?next=%2Fjobs%3Fstate%3Dpending"
    page = anon.get(r.headers["location"])
    r = anon.post("/signin", data={"username": "a-member", "password": PASSWORD, "csrf": csrf_of(page.text),
                                   "next": "/jobs?state=pending"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/jobs?state=pending"


def test_session_cookie_is_httponly_and_samesite_lax(portal: Portal) -> None:
    anon = portal(None)
    page = anon.get("/signin")
    r = anon.post("/signin", data={"username": "a-member", "password": PASSWORD, "csrf": csrf_of(page.text)},
                  follow_redirects=False)
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("aicc_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert anon.get("/").status_code == 200


def test_wrong_password_unknown_user_and_disabled_user_all_fail_alike(portal: Portal, db: Database,
                                                                      pworld: World) -> None:
    with db.write() as s:
        u = users.sign_in(s, "b-member", PASSWORD)
        u.disabled = True
    for username, password in [("a-member", "wrong password!"), ("ghost", PASSWORD), ("b-member", PASSWORD)]:
        anon = portal(None)
        page = anon.get("/signin")
        r = anon.post("/signin", data={"username": username, "password": password, "csrf": csrf_of(page.text)},
                      follow_redirects=False)
        assert r.status_code == 401
        assert "aicc_session" not in r.cookies
        assert 'role="alert"' in r.text


def test_sign_in_form_without_its_csrf_token_is_refused(portal: Portal) -> None:
    anon = portal(None)
    anon.get("/signin")
    r = anon.post("/signin", data={"username": "a-member", "password": PASSWORD, "csrf": "forged"},
                  follow_redirects=False)
    assert r.status_code == 403
    fresh = portal(None)  # no pre-session cookie at all (a cross-site form)
    r = fresh.post("/signin", data={"username": "a-member", "password": PASSWORD, "csrf": "x" * 32},
                   follow_redirects=False)
    assert r.status_code == 403


def test_forms_without_the_session_csrf_token_change_nothing(portal: Portal, db: Database, settings: Settings,
                                                            pworld: World) -> None:
    c = portal("a-member")
    job = submit(db, settings, pworld.a.member_token, pworld.a.project_id, "keep")[0]
    r = c.post(f"/jobs/{job}/cancel", data={"csrf": "not-the-token"}, follow_redirects=False)
    assert r.status_code == 403
    r = c.post("/jobs", data={"project_id": pworld.a.project_id, "command": "true"}, follow_redirects=False)
    assert r.status_code == 403
    other = portal("a-admin")  # a valid token of another session is not this session's token
    r = c.post(f"/jobs/{job}/cancel", data={"csrf": csrf_of(other.get("/").text)}, follow_redirects=False)
    assert r.status_code == 403
    assert "pending" in c.get(f"/jobs/{job}").text or "대기" in c.get(f"/jobs/{job}").text
    assert c.get("/jobs").text.count("/jobs/") >= 1


def test_sign_out_revokes_the_session_everywhere(portal: Portal) -> None:
    c = portal("a-member")
    cookie = c.cookies.get("aicc_session")
    assert cookie and cookie.startswith("aicc_")
    r = c.post("/signout", data={"csrf": csrf_of(c.get("/").text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin"
    replay = portal(None)
    replay.cookies.set("aicc_session", cookie)
    assert replay.get("/", follow_redirects=False).status_code == 303
    assert replay.get("/api/v1/users/me", headers={"Authorization": f"Bearer {cookie}"}).status_code == 401


def test_next_parameter_cannot_leave_the_site(portal: Portal) -> None:
    c = portal("a-member")
    for evil in ["//evil.example/x", "https://evil.example", "/\\evil.example"]:
        r = c.get("/signin", params={"next": evil}, follow_redirects=False)
        assert r.headers["location"] == "/"
        r = c.get("/lang/en", params={"next": evil}, follow_redirects=False)
        assert r.headers["location"] == "/"


def test_security_headers_on_pages(portal: Portal) -> None:
    r = portal("a-member").get("/")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"


def test_api_keeps_tokens_and_problem_json(portal: Portal, pworld: World) -> None:
    c = portal(None)
    assert c.get("/api/v1/users/me", headers=World.auth(pworld.a.member_token)).json()["username"] == "a-member"
    r = c.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    r = c.get("/api/v1/jobs")  # the session cookie is not an API credential
    assert r.status_code == 401
    assert "/" not in {p for p in c.get("/api/v1/openapi.json").json()["paths"]}


def test_portal_password_can_be_set_through_the_api(portal: Portal, pworld: World) -> None:
    c = portal(None)
    me = c.get("/api/v1/users/me", headers=World.auth(pworld.a.member_token)).json()
    r = c.post(f"/api/v1/users/{me['id']}/password", json={"password": "a new password 1"},
               headers=World.auth(pworld.a.member_token))
    assert r.status_code == 403  # changing your own needs the current password
    r = c.post(f"/api/v1/users/{me['id']}/password", json={"password": "a new password 1",
                                                          "current_password": PASSWORD},
               headers=World.auth(pworld.a.member_token))
    assert r.status_code == 200, r.text
    r = c.post(f"/api/v1/users/{me['id']}/password", json={"password": "short"}, headers=World.auth(pworld.admin_token))
    assert r.status_code == 422
    r = c.post(f"/api/v1/users/{me['id']}/password", json={"password": "set by the admin"},
               headers=World.auth(pworld.b.admin_token))
    assert r.status_code == 404  # another organization's user does not exist for b's admin
    sign_in(portal(None), "a-member", "a new password 1")


def test_repeated_failures_lock_the_username_for_a_while(portal: Portal) -> None:
    anon = portal(None)
    for _ in range(5):
        page = anon.get("/signin")
        r = anon.post("/signin", data={"username": "a-admin", "password": "guess guess 1", "csrf": csrf_of(page.text)})
        assert r.status_code == 401
    page = anon.get("/signin")
    r = anon.post("/signin", data={"username": "a-admin", "password": PASSWORD, "csrf": csrf_of(page.text)})
    assert r.status_code == 429 and "로그인 실패가 너무 많습니다" in r.text  # even the right password, for now


def test_users_change_their_own_password_on_the_account_page(portal: Portal) -> None:
    c = portal("a-member")
    page = c.get("/account")
    assert "a-member" in page.text and "org-a" not in page.text and "Org A: 구성원" in page.text
    csrf = csrf_of(page.text)
    r = c.post("/account/password", data={"csrf": csrf, "current": PASSWORD, "new": "another secret 2",
                                          "confirm": "another secret 3"})
    assert r.status_code == 422 and "서로 다릅니다" in r.text
    r = c.post("/account/password", data={"csrf": csrf, "current": "not it at all", "new": "another secret 2",
                                          "confirm": "another secret 2"})
    assert r.status_code == 422 and "현재 비밀번호가 틀렸습니다" in r.text
    r = c.post("/account/password", data={"csrf": csrf, "current": PASSWORD, "new": "short", "confirm": "short"},
               headers={"Accept-Language": "en"})
    assert r.status_code == 422 and "10 to 1024 characters" in r.text
    r = c.post("/account/password", data={"csrf": csrf, "current": PASSWORD, "new": "another secret 2",
                                          "confirm": "another secret 2"}, follow_redirects=False)
    assert r.status_code == 303
    sign_in(portal(None), "a-member", "another secret 2")


def test_a_form_posted_after_the_session_ended_leads_to_sign_in_then_home(portal: Portal) -> None:
    anon = portal(None)
    r = anon.post("/jobs/1/cancel", data={"csrf": "x"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin?next=%2F"
