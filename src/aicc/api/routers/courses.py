"""/api/v1/courses: a course's project, instructors, roster (CSV, all or nothing) and its students' sessions."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import Field

from aicc.api.deps import DB, Actor, Config
from aicc.api.schemas.common import Ident, Name, Strict
from aicc.api.schemas.sessions import SessionOut
from aicc.services import course_materials, sessions
from aicc.services import courses as svc

router = APIRouter(prefix="/courses", tags=["courses"])


class CourseCreate(Strict):
    name: Name
    title: str = Field(min_length=1, max_length=200)
    project_id: Ident = Field(description="The course's project: its allocation is the course allocation.")
    instructors: list[Name] = Field(default_factory=list, max_length=50)
    image: str | None = Field(None, min_length=1, max_length=512, description="Default image of its sessions.")
    max_sessions: int = Field(1, ge=1, le=16, description="Sessions a student may have at once.")
    accelerator_hours_per_day: int = Field(0, ge=0, le=1536, description="Per student; 0: no cap.")


class RosterImport(Strict):
    csv: str = Field(min_length=1, max_length=512 * 1024,
                     description="Lines of name,email,student_number (a header line is allowed).")


class InstructorAdd(Strict):
    username: Name


@router.post("", status_code=201)
def create_course(db: DB, actor: Actor, body: CourseCreate) -> dict[str, Any]:
    """Center admins."""
    with db.write() as s:
        c = svc.create(s, actor, name=body.name, title=body.title, project_id=body.project_id,
                       instructors=body.instructors, image=body.image, max_sessions=body.max_sessions,
                       accelerator_hours_per_day=body.accelerator_hours_per_day)
        return {"id": c.id, "name": c.name, "project_id": c.project_id}


@router.post("/{course_id}/instructors", status_code=204)
def add_instructor(db: DB, actor: Actor, course_id: Ident, body: InstructorAdd) -> None:
    with db.write() as s:
        svc.add_instructor(s, actor, course_id, body.username)


@router.post("/{course_id}/roster")
def import_roster(db: DB, actor: Actor, course_id: Ident, body: RosterImport) -> dict[str, int]:
    """Accounts created (or linked by email) and enrolled; one bad line and nothing is imported (422 names each)."""
    with db.write() as s:
        return svc.import_roster(s, actor, course_id, body.csv)


@router.get("/{course_id}/roster")
def get_roster(db: DB, actor: Actor, course_id: Ident) -> list[dict[str, object]]:
    """Instructors: who is enrolled, what each is running and their use."""
    with db.read() as s:
        return svc.roster(s, actor, course_id)


@router.get("/{course_id}/sessions", response_model=list[SessionOut])
def course_sessions(db: DB, actor: Actor, settings: Config, course_id: Ident) -> list[SessionOut]:
    """Instructors: every student's sessions (stop one with DELETE /sessions/{id})."""
    with db.read() as s:
        out = []
        for v in sessions.list_course(s, actor, settings, course_id):
            data = dataclasses.asdict(v)
            data.pop("reason_params")
            out.append(SessionOut.model_validate(data))
        return out


MaterialName = Annotated[str, Path(min_length=1, max_length=200, description="One file name (no '/', no leading '.').")]


@router.put("/{course_id}/materials/{name}", status_code=201)
async def put_material(request: Request, db: DB, actor: Actor, settings: Config, course_id: Ident,
                       name: MaterialName) -> dict[str, Any]:
    """Instructors of the course (and center admins): the body is the file (at most AICC_MAX_BODY_BYTES). Every
    session of the course sees it read-only under ``$AICC_MATERIALS``."""
    data = await request.body()
    with db.write() as s:
        m = course_materials.put(s, actor, settings, course_id, name, data)
    return {"name": m.name, "size": m.size}


@router.get("/{course_id}/materials")
def list_materials(db: DB, actor: Actor, settings: Config, course_id: Ident) -> list[dict[str, Any]]:
    """The course's instructors and students."""
    with db.read() as s:
        return [{"name": m.name, "size": m.size} for m in course_materials.list_(s, actor, settings, course_id)]


@router.delete("/{course_id}/materials/{name}", status_code=204)
def delete_material(db: DB, actor: Actor, settings: Config, course_id: Ident, name: MaterialName) -> None:
    with db.write() as s:
        course_materials.remove(s, actor, settings, course_id, name)
