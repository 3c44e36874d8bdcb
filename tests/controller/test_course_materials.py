"""A course session is handed the course's materials read-only (bound at their place, named in AICC_MATERIALS);
a run of another project is not."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from aicc.config import Settings
from aicc.controller.loop import Controller
from aicc.executors.local import LocalExecutor
from aicc.services import course_materials, courses, sessions, tokens
from aicc.services.principal import SYSTEM
from aicc.store.db import Database
from aicc.store.models import FlavorRow, JobRow, ProjectRow, UserRow
from tests.world import World


def test_a_course_session_sees_the_materials_read_only_and_another_projects_run_does_not(
        db: Database, world: World, settings: Settings) -> None:
    controller = Controller(dataclasses.replace(settings, preempt_after_s=0.0), db, LocalExecutor(settings.jobs_dir))
    with db.write() as s:
        course = courses.create(s, SYSTEM, name="ai-101", title="AI", project_id=world.a.project_id,
                                instructors=["a-member"])
        courses.import_roster(s, SYSTEM, course.id, "김민지,minji@school.kr,2027001\n")
        course_materials.put(s, SYSTEM, settings, course.id, "week1.ipynb", b"{}")
        minji = tokens.principal_for(s, s.query(UserRow).filter_by(username="minji").one())
        mine = sessions.start(s, minji, settings, sessions.SessionSpec(project_id=world.a.project_id)).id
        other = sessions.start(s, tokens.authenticate(s, world.b.member_token), settings,
                               sessions.SessionSpec(project_id=world.b.project_id)).id
    with db.read() as s:
        cpu = s.execute(select(FlavorRow).where(FlavorRow.name == "cpu")).scalar_one()
        launches = {}
        for jid in (mine, other):
            job = s.get(JobRow, jid)
            project = s.get(ProjectRow, job.project_id) if job else None
            assert job is not None and project is not None
            launches[jid] = controller._launch(job, cpu, project.name, [])
    where = course_materials.folder(settings, course.id)
    assert where in launches[mine].readonly and launches[mine].env["AICC_MATERIALS"] == str(where)
    assert (where / "week1.ipynb").stat().st_mode & 0o777 == 0o644 and where.stat().st_mode & 0o777 == 0o755
    assert where not in launches[other].readonly and "AICC_MATERIALS" not in launches[other].env
