"""Every page answers another organization's object as not found, exactly as the API does."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from aicc.config import Settings
from aicc.store.db import Database
from tests.portal.conftest import csrf_of
from tests.portal.helpers import submit
from tests.world import World

Portal = Callable[[str | None], TestClient]


@pytest.fixture
def a_job(db: Database, settings: Settings, pworld: World) -> int:
    return submit(db, settings, pworld.a.member_token, pworld.a.project_id, "secret-a-job")[0]


@pytest.mark.parametrize("username", ["b-member", "b-admin", "nobody", "rev"])
def test_other_tenants_jobs_are_not_found(portal: Portal, a_job: int, pworld: World, username: str) -> None:
    c = portal(username)
    for path in [f"/jobs/{a_job}", f"/jobs/{a_job}/log", f"/jobs/{a_job}/log?stream=stderr",
                 f"/projects/{pworld.a.project_id}", f"/orgs/{pworld.a.org_id}"]:
        r = c.get(path)
        assert r.status_code == 404, path
        assert "찾을 수 없습니다" in r.text  # the same words as for an object that does not exist
        assert "secret-a-job" not in r.text and "proj-a" not in r.text
    r = c.post(f"/jobs/{a_job}/cancel", data={"csrf": csrf_of(c.get("/").text)})
    assert r.status_code == 404
    for path in ["/", "/jobs", "/jobs?project=" + str(pworld.a.project_id), "/projects", "/jobs/new"]:
        r = c.get(path)
        assert r.status_code == 200
        assert "secret-a-job" not in r.text and "proj-a" not in r.text and "grant a" not in r.text, path


def test_the_same_pages_show_the_owner_everything(portal: Portal, a_job: int, pworld: World) -> None:
    c = portal("a-member")
    assert "secret-a-job" in c.get(f"/jobs/{a_job}").text
    assert c.get(f"/jobs/{a_job}/log").json()["state"] == "pending"
    assert "grant a" in c.get(f"/projects/{pworld.a.project_id}").text
    assert "secret-a-job" in c.get("/jobs").text and "secret-a-job" in c.get("/").text


def test_submitting_to_another_tenants_project_is_refused(portal: Portal, pworld: World, db: Database) -> None:
    c = portal("b-member")
    r = c.post("/jobs", data={"csrf": csrf_of(c.get("/jobs/new").text), "project_id": pworld.a.project_id,
                              "command": "echo hi"})
    assert r.status_code == 422 and "proj-a" not in r.text
    assert "프로젝트를 찾을 수 없습니다" in r.text


def test_org_pages_are_for_that_orgs_admins_and_center_admins(portal: Portal, pworld: World) -> None:
    admin_a = portal("a-admin")
    page = admin_a.get(f"/orgs/{pworld.a.org_id}")
    assert page.status_code == 200 and "a-member" in page.text and "proj-a" in page.text
    assert admin_a.get(f"/orgs/{pworld.b.org_id}").status_code == 404
    assert admin_a.get("/orgs", follow_redirects=False).headers["location"] == f"/orgs/{pworld.a.org_id}"
    assert portal("a-member").get(f"/orgs/{pworld.a.org_id}").status_code == 404
    root = portal("root")
    assert root.get(f"/orgs/{pworld.b.org_id}").status_code == 200


def test_center_page_is_for_center_admins_only(portal: Portal) -> None:
    for username in ["a-member", "a-admin", "rev"]:
        assert portal(username).get("/center").status_code == 403
    assert portal("root").get("/center").status_code == 200


def test_navigation_follows_roles(portal: Portal) -> None:
    member = portal("a-member").get("/").text
    assert 'href="/center"' not in member and 'href="/orgs"' not in member
    assert 'href="/programs"' in member and 'href="/datazone"' in member
    assert 'href="/orgs"' in portal("a-admin").get("/").text
    root = portal("root").get("/").text
    assert 'href="/center"' in root
