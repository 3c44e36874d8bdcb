"""Organization admins manage members on the portal, with the API's rules."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from aicc.services import organizations, projects, tokens
from aicc.store.db import Database
from tests.portal.conftest import csrf_of
from tests.world import World

Portal = Callable[[str | None], TestClient]


def _user_id(db: Database, world: World, username: str) -> int:
    with db.read() as s:
        root = tokens.authenticate(s, world.admin_token)
        return next(u.id for m, u in organizations.list_members(s, root, world.a.org_id) if u.username == username)


def test_org_admin_adds_a_member_to_the_org_and_a_project_then_removes_them(
        portal: Portal, pworld: World, db: Database) -> None:
    c = portal("a-admin")
    page = c.get(f"/orgs/{pworld.a.org_id}")
    assert 'value="data_custodian"' not in page.text  # only center admins appoint custodians
    r = c.post(f"/orgs/{pworld.a.org_id}/members", data={"csrf": csrf_of(page.text), "username": "Nobody",
                                                         "role": "member"}, follow_redirects=False)
    assert r.status_code == 303  # an existing user is invited: joining needs their consent
    org_page = c.get(r.headers["location"]).text
    assert "초대했습니다" in org_page and "수락을 기다리는 초대" in org_page
    nobody = portal("nobody")
    account = nobody.get("/account").text
    assert "초대했습니다" in account and "수락" in account
    inv = re.search(r'action="/invitations/(\d+)/accept"', account)
    assert inv
    r = nobody.post(f"/invitations/{inv.group(1)}/accept", data={"csrf": csrf_of(account)}, follow_redirects=False)
    assert r.status_code == 303
    uid = _user_id(db, pworld, "nobody")
    page = c.get(f"/projects/{pworld.a.project_id}")
    r = c.post(f"/projects/{pworld.a.project_id}/members", data={"csrf": csrf_of(page.text), "username": "nobody"},
               follow_redirects=False)
    assert r.status_code == 303
    with db.read() as s:
        root = tokens.authenticate(s, pworld.admin_token)
        assert "nobody" in [u.username for u in projects.list_members(s, root, pworld.a.project_id)]
    csrf = csrf_of(c.get(f"/projects/{pworld.a.project_id}").text)
    assert c.post(f"/projects/{pworld.a.project_id}/members/{uid}/remove", data={"csrf": csrf}).status_code == 200
    assert c.post(f"/orgs/{pworld.a.org_id}/members/{uid}/remove", data={"csrf": csrf}).status_code == 200
    with db.read() as s:
        root = tokens.authenticate(s, pworld.admin_token)
        assert "nobody" not in [u.username for _, u in organizations.list_members(s, root, pworld.a.org_id)]


def test_refusals_come_back_on_the_page_in_korean(portal: Portal, pworld: World) -> None:
    c = portal("a-admin")
    csrf = csrf_of(c.get(f"/orgs/{pworld.a.org_id}").text)
    r = c.post(f"/orgs/{pworld.a.org_id}/members", data={"csrf": csrf, "username": "ghost", "role": "member"})
    assert r.status_code == 422 and "사용자 &#39;ghost&#39;을(를) 찾을 수 없습니다" in r.text
    r = c.post(f"/orgs/{pworld.a.org_id}/members", data={"csrf": csrf, "username": "nobody",
                                                         "role": "data_custodian"})
    assert r.status_code == 422 and "데이터 관리자는 센터 관리자만" in r.text
    r = c.post(f"/projects/{pworld.a.project_id}/members", data={"csrf": csrf, "username": "b-member"})
    assert r.status_code == 422 and "기관의 구성원이 아닙니다" in r.text


def test_members_and_other_orgs_cannot_change_memberships(portal: Portal, pworld: World, db: Database) -> None:
    member = portal("a-member")
    csrf = csrf_of(member.get("/").text)
    assert member.post(f"/orgs/{pworld.a.org_id}/members",
                       data={"csrf": csrf, "username": "nobody", "role": "org_admin"}).status_code == 403
    assert member.post(f"/projects/{pworld.a.project_id}/members",
                       data={"csrf": csrf, "username": "a-admin"}).status_code == 403
    assert "빼기" not in member.get(f"/projects/{pworld.a.project_id}").text
    other = portal("b-admin")
    csrf = csrf_of(other.get("/").text)
    uid = _user_id(db, pworld, "a-member")
    for path, data in [(f"/orgs/{pworld.a.org_id}/members", {"username": "b-member", "role": "member"}),
                       (f"/orgs/{pworld.a.org_id}/members/{uid}/remove", {}),
                       (f"/projects/{pworld.a.project_id}/members", {"username": "b-member"}),
                       (f"/projects/{pworld.a.project_id}/members/{uid}/remove", {})]:
        assert other.post(path, data={"csrf": csrf, **data}).status_code == 404, path
    assert member.post(f"/orgs/{pworld.a.org_id}/members", data={"username": "x"}).status_code == 403  # no CSRF
