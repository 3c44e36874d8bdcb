"""Course materials: files an instructor hands the class, shown read-only in every session of the course.

They live in the server's own folder for the course (``AICC_HOME/courses/<id>/materials``), written only
here; a session of the course's project gets that folder bound read-only at the same place and its path in
``AICC_MATERIALS`` (:func:`for_run`). Students read them, copy what they change into their workspace, and
cannot alter them for the others. File names are checked here, never taken as a path: one level, no dot
files, no separators. Every change is an audit event.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.config import Settings
from aicc.core.errors import InvalidInput, NotFound
from aicc.services import audit
from aicc.services.courses import get, role_in_project
from aicc.services.principal import Principal
from aicc.store.models import CourseRow, ProjectRow

NAME_RE = re.compile(r"^[^\x00-\x1f/\\.][^\x00-\x1f/\\]{0,199}$")
MAX_FILES = 500


@dataclass(frozen=True, slots=True)
class Material:
    name: str
    size: int


def folder(settings: Settings, course_id: int) -> Path:
    return settings.home / "courses" / str(course_id) / "materials"


def _may_read(s: Session, actor: Principal, course: CourseRow) -> bool:
    return actor.is_center_admin or role_in_project(s, actor.user_id, course.project_id) is not None


def _may_write(s: Session, actor: Principal, course: CourseRow) -> bool:
    return actor.is_center_admin or role_in_project(s, actor.user_id, course.project_id) == "instructor"


def _course(s: Session, actor: Principal, course_id: int, *, write: bool) -> CourseRow:
    course = get(s, course_id)
    if not (_may_write if write else _may_read)(s, actor, course):
        raise NotFound("course not found")  # not its instructor (or not in it): as if there were none
    return course


def _checked(name: str) -> str:
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        size = 0
    if not NAME_RE.match(name) or name.strip() != name or not 0 < size <= 200:
        raise InvalidInput("a material's name: one file name (no '/', no leading '.', at most 200 characters)")
    return name


def _org(s: Session, course: CourseRow) -> int | None:
    return s.execute(select(ProjectRow.organization_id).where(ProjectRow.id == course.project_id)).scalar_one()


def put(s: Session, actor: Principal, settings: Settings, course_id: int, name: str, data: bytes) -> Material:
    """Add or replace one file (instructors of the course, center admins)."""
    course = _course(s, actor, course_id, write=True)
    name = _checked(name)
    where = folder(settings, course.id)
    where.mkdir(parents=True, exist_ok=True)
    os.chmod(where, 0o755)  # noqa: S103 - the course's runs read it (bound read-only); only the server writes
    if not (where / name).exists() and len(os.listdir(where)) >= MAX_FILES:
        raise InvalidInput(f"at most {MAX_FILES} materials per course")
    tmp = where / f".{name}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, where / name)
    audit.record(s, actor, "course.material.put", "course", course.id, organization_id=_org(s, course),
                 data={"name": name, "bytes": len(data)})
    return Material(name, len(data))


def list_(s: Session, actor: Principal, settings: Settings, course_id: int) -> list[Material]:
    """The course's instructors and students, center admins."""
    course = _course(s, actor, course_id, write=False)
    where = folder(settings, course.id)
    if not where.is_dir():
        return []
    return [Material(e.name, e.stat().st_size) for e in sorted(os.scandir(where), key=lambda e: e.name)
            if e.is_file(follow_symlinks=False) and not e.name.startswith(".")]


def remove(s: Session, actor: Principal, settings: Settings, course_id: int, name: str) -> None:
    course = _course(s, actor, course_id, write=True)
    path = folder(settings, course.id) / _checked(name)
    if not path.is_file() or path.is_symlink():
        raise NotFound("material not found")
    path.unlink()
    audit.record(s, actor, "course.material.delete", "course", course.id, organization_id=_org(s, course),
                 data={"name": name})


def for_run(s: Session, settings: Settings, project_id: int) -> Path | None:
    """The materials folder a run of ``project_id`` sees read-only, when the project is a course's and it has
    one (the controller binds it into the course's sessions)."""
    course_id = s.execute(select(CourseRow.id).where(CourseRow.project_id == project_id)).scalar_one_or_none()
    if course_id is None:
        return None
    where = folder(settings, course_id)
    return where if where.is_dir() else None
