"""The instructor's course page: the roster with each student's use, every live session, and Stop."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from aicc.config import Settings
from aicc.services import course_materials, courses, sessions, tokens
from aicc.services.principal import SYSTEM
from aicc.store.db import Database
from aicc.store.models import UserRow
from tests.portal.conftest import csrf_of, set_passwords
from tests.world import World

Portal = Callable[[str | None], TestClient]


def test_instructor_sees_the_class_and_stops_a_session_a_classmate_cannot(
        portal: Portal, db: Database, settings: Settings, pworld: World) -> None:
    with db.write() as s:
        course = courses.create(s, SYSTEM, name="ai-101", title="AI 기초", project_id=pworld.a.project_id,
                                instructors=["a-member"])
        courses.import_roster(s, SYSTEM, course.id, "김민지,minji@school.kr,2027001\n이준,jun@school.kr,2027002\n")
        minji = s.query(UserRow).filter_by(username="minji").one()
        me = tokens.principal_for(s, minji)
        sid = sessions.start(s, me, settings, sessions.SessionSpec(project_id=pworld.a.project_id)).id
        cid = course.id
    set_passwords(db)
    teacher = portal("a-member")
    page = teacher.get(f"/courses/{cid}")
    assert page.status_code == 200
    assert "김민지" in page.text and "2027001" in page.text and f'id="session-{sid}"' in page.text
    r = teacher.post(f"/courses/{cid}/sessions/{sid}/stop", data={"csrf": csrf_of(page.text)},
                     follow_redirects=False)
    assert r.status_code == 303
    with db.read() as s:
        assert sessions.get(s, me, settings, sid).state == "cancelled"
    classmate = portal("jun")
    assert classmate.get(f"/courses/{cid}").status_code == 404


def test_an_instructor_adds_and_removes_materials_on_the_course_page(
        portal: Portal, db: Database, settings: Settings, pworld: World) -> None:
    with db.write() as s:
        cid = courses.create(s, SYSTEM, name="ai-101", title="AI 기초", project_id=pworld.a.project_id,
                             instructors=["a-member"]).id
    set_passwords(db)
    teacher = portal("a-member")
    page = teacher.get(f"/courses/{cid}")
    assert page.status_code == 200 and "수업 자료" in page.text
    r = teacher.post(f"/courses/{cid}/materials", data={"csrf": csrf_of(page.text)},
                     files={"file": ("week1.ipynb", b'{"cells": []}', "application/json")}, follow_redirects=False)
    assert r.status_code == 303
    page = teacher.get(f"/courses/{cid}")
    assert "week1.ipynb" in page.text
    assert (course_materials.folder(settings, cid) / "week1.ipynb").read_bytes() == b'{"cells": []}'
    bad = teacher.post(f"/courses/{cid}/materials", data={"csrf": csrf_of(page.text)},
                       files={"file": (".bashrc", b"x", "text/plain")})
    assert bad.status_code == 422
    gone = teacher.post(f"/courses/{cid}/materials/week1.ipynb/remove", data={"csrf": csrf_of(page.text)},
                        follow_redirects=False)
    assert gone.status_code == 303 and not (course_materials.folder(settings, cid) / "week1.ipynb").exists()
