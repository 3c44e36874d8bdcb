"""Courses (교육과정): a project with instructors, a roster imported from CSV, and per-student limits.

A course is its project (the allocation is the course allocation; sessions are charged to it) plus who
teaches and who studies there. A center admin creates it and imports the roster; the import is all or
nothing: every bad line is named, and if there is one, nothing is written. Instructors see every student's
sessions and use, and may stop a session; students see only their own.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicc.core.errors import Conflict, InvalidInput, NotFound
from aicc.core.jobs import RunKind
from aicc.core.names import USERNAME_RE
from aicc.core.tenancy import OrgRole
from aicc.services import audit, organizations, projects, users
from aicc.services.jobs import ACTIVE
from aicc.services.principal import Principal
from aicc.store.models import (
    CourseMemberRow,
    CourseRow,
    JobRow,
    MembershipRow,
    ProjectRow,
    UserRow,
    utcnow,
)

EMAIL_RE = re.compile(r"^[^@\s,;]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,}$")
STUDENT_NUMBER_RE = re.compile(r"^[A-Za-z0-9-]{1,32}$")
MAX_ROSTER = 2000


@dataclass(frozen=True, slots=True)
class RosterLine:
    line: int
    name: str
    email: str
    student_number: str


def create(s: Session, actor: Principal, *, name: str, title: str, project_id: int, instructors: Sequence[str] = (),
           image: str | None = None, max_sessions: int = 1, accelerator_hours_per_day: int = 0) -> CourseRow:
    actor.require_center_admin()
    if not USERNAME_RE.match(name):
        raise InvalidInput("course name: lowercase letters, digits, '_', '.', '-' (at most 32)")
    if s.execute(select(CourseRow.id).where(CourseRow.name == name)).first():
        raise Conflict(f"course {name!r} exists")
    if not 1 <= max_sessions <= 16 or not 0 <= accelerator_hours_per_day <= 24 * 64:
        raise InvalidInput("max_sessions 1-16; accelerator_hours_per_day 0 (no cap) to 1536")
    project = projects.get(s, actor, project_id)
    course = CourseRow(name=name, title=title, project_id=project.id, image=image, max_sessions=max_sessions,
                       accelerator_hours_per_day=accelerator_hours_per_day)
    s.add(course)
    s.flush()
    for username in instructors:
        add_instructor(s, actor, course.id, username)
    audit.record(s, actor, "course.create", "course", course.id, organization_id=project.organization_id,
                 data={"name": name, "project": project.name})
    return course


def get(s: Session, course_id: int) -> CourseRow:
    course = s.get(CourseRow, course_id)
    if course is None:
        raise NotFound("course not found")
    return course


def _enrol(s: Session, actor: Principal, course: CourseRow, user: UserRow, role: str,
           student_number: str | None = None) -> None:
    project = s.get(ProjectRow, course.project_id)
    assert project is not None
    in_org = s.execute(select(MembershipRow.id).where(MembershipRow.user_id == user.id,
                                                      MembershipRow.organization_id == project.organization_id)).first()
    if not in_org:
        organizations.add_member(s, actor, project.organization_id, username=user.username, role=OrgRole.MEMBER)
    projects.add_member(s, actor, project.id, username=user.username)
    row = s.get(CourseMemberRow, (course.id, user.id))
    if row is None:
        s.add(CourseMemberRow(course_id=course.id, user_id=user.id, role=role, student_number=student_number))
    else:
        row.role = "instructor" if "instructor" in (row.role, role) else role
        row.student_number = student_number or row.student_number
    s.flush()


def add_instructor(s: Session, actor: Principal, course_id: int, username: str) -> None:
    actor.require_center_admin()
    course = get(s, course_id)
    user = s.execute(select(UserRow).where(UserRow.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"user {username!r} not found")
    _enrol(s, actor, course, user, "instructor")


def parse_roster(text: str) -> tuple[list[RosterLine], list[dict[str, object]]]:
    """Lines of ``name,email,student_number`` (a header line is allowed); every bad line named."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    lines: list[RosterLine] = []
    errors: list[dict[str, object]] = []
    if rows and [c.strip().lower() for c in rows[0]][:3] == ["name", "email", "student_number"]:
        rows = [[], *rows[1:]]
    if len(rows) > MAX_ROSTER:
        return [], [{"line": 0, "message": f"at most {MAX_ROSTER} students per import"}]
    seen_email: dict[str, int] = {}
    seen_number: dict[str, int] = {}
    for n, row in enumerate(rows, start=1):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != 3:
            errors.append({"line": n, "message": f"expected 3 fields (name, email, student number), got {len(row)}"})
            continue
        name, email, number = (c.strip() for c in row)
        problems = []
        if not name or len(name) > 100:
            problems.append("name is empty or longer than 100 characters")
        if not EMAIL_RE.match(email):
            problems.append(f"{email!r} is not an email address")
        if not STUDENT_NUMBER_RE.match(number):
            problems.append(f"student number {number!r}: letters, digits and '-', at most 32")
        key = email.lower()
        if key in seen_email:
            problems.append(f"email {email} repeats line {seen_email[key]}")
        if number in seen_number:
            problems.append(f"student number {number} repeats line {seen_number[number]}")
        seen_email.setdefault(key, n)
        seen_number.setdefault(number, n)
        if problems:
            errors.append({"line": n, "message": "; ".join(problems)})
        else:
            lines.append(RosterLine(n, name, key, number))
    if not lines and not errors:
        errors.append({"line": 0, "message": "the roster is empty"})
    return lines, errors


def _username_for(s: Session, line: RosterLine) -> str:
    base = re.sub(r"[^a-z0-9_.-]", "", line.email.split("@")[0].lower())[:24] or "student"
    if not base[0].isalpha() and base[0] != "_":
        base = "s" + base
    for candidate in (base, f"{base}.{line.student_number.lower()}"[:32]):
        if not s.execute(select(UserRow.id).where(UserRow.username == candidate)).first():
            return candidate
    raise InvalidInput(f"line {line.line}: no free username for {line.email}")


def import_roster(s: Session, actor: Principal, course_id: int, text: str) -> dict[str, int]:
    """All or nothing, in the caller's transaction: errors raise before anything is written."""
    actor.require_center_admin()
    course = get(s, course_id)
    lines, errors = parse_roster(text)
    taken = {r.student_number: r.user_id for r in s.execute(
        select(CourseMemberRow).where(CourseMemberRow.course_id == course.id)).scalars() if r.student_number}
    by_email = {u.email.lower(): u for u in s.execute(select(UserRow).where(
        func.lower(UserRow.email).in_([ln.email for ln in lines]))).scalars() if u.email} if lines else {}
    for ln in lines:
        owner = taken.get(ln.student_number)
        user = by_email.get(ln.email)
        if owner is not None and (user is None or user.id != owner):
            errors.append({"line": ln.line, "message": f"student number {ln.student_number} is already another "
                                                        "student's in this course"})
    if errors:
        errors.sort(key=lambda e: int(str(e["line"])))
        raise InvalidInput(f"{len(errors)} bad line(s), nothing imported: " +
                           "; ".join(f"line {e['line']}: {e['message']}" for e in errors[:5]), errors=errors)
    created = linked = 0
    for ln in lines:
        user = by_email.get(ln.email)
        if user is None:
            user = users.create(s, actor, username=_username_for(s, ln), display_name=ln.name, email=ln.email,
                                center_role=None)
            created += 1
        else:
            linked += 1
        _enrol(s, actor, course, user, "student", ln.student_number)
    project = s.get(ProjectRow, course.project_id)
    audit.record(s, actor, "course.roster.import", "course", course.id,
                 organization_id=project.organization_id if project else None,
                 data={"created": created, "linked": linked})
    return {"created": created, "linked": linked}


def role_in_project(s: Session, user_id: int, project_id: int) -> str | None:
    """instructor / student if the project is a course's and the user is on it."""
    row = s.execute(select(CourseMemberRow.role).join(CourseRow, CourseRow.id == CourseMemberRow.course_id).where(
        CourseRow.project_id == project_id, CourseMemberRow.user_id == user_id)).first()
    return row[0] if row else None


def check_student_limits(s: Session, actor: Principal, project_id: int, accelerators: int,
                         time_limit_s: int) -> None:
    """Refuse a student's new session beyond the course's concurrent-session or daily accelerator-hour caps."""
    course = s.execute(select(CourseRow).where(CourseRow.project_id == project_id)).scalar_one_or_none()
    if course is None or role_in_project(s, actor.user_id, project_id) != "student":
        return
    mine = select(JobRow).where(JobRow.user_id == actor.user_id, JobRow.project_id == project_id,
                                JobRow.kind == RunKind.SESSION.value)
    live = s.execute(select(func.count()).select_from(mine.where(JobRow.state.in_(ACTIVE)).subquery())).scalar_one()
    if live >= course.max_sessions:
        raise Conflict(f"course {course.name}: at most {course.max_sessions} session(s) at once; stop one first")
    if course.accelerator_hours_per_day and accelerators:
        since = utcnow() - dt.timedelta(days=1)
        used = sum(j.accelerators * j.time_limit_s for j in s.execute(
            mine.where(JobRow.submitted_at >= since, JobRow.accelerators > 0)).scalars()) / 3600
        asked = accelerators * time_limit_s / 3600
        if used + asked > course.accelerator_hours_per_day:
            raise Conflict(f"course {course.name}: {course.accelerator_hours_per_day} accelerator-hours a day per "
                           f"student; {used:g} reserved in the last 24 h, this session asks {asked:g}")


def image_of(s: Session, project_id: int) -> str | None:
    """A course's image is its sessions' default."""
    return s.execute(select(CourseRow.image).where(CourseRow.project_id == project_id)).scalar_one_or_none()


def instructs(s: Session, actor: Principal, project_id: int) -> bool:
    return role_in_project(s, actor.user_id, project_id) == "instructor"


def roster(s: Session, actor: Principal, course_id: int) -> list[dict[str, object]]:
    """Each member, their role, and their sessions' use (instructors and center admins only)."""
    course = get(s, course_id)
    if not (actor.is_center_admin or instructs(s, actor, course.project_id)):
        raise NotFound("course not found")
    out: list[dict[str, object]] = []
    members = s.execute(select(CourseMemberRow, UserRow).join(UserRow, UserRow.id == CourseMemberRow.user_id).where(
        CourseMemberRow.course_id == course.id).order_by(CourseMemberRow.role, UserRow.username)).all()
    for m, u in members:
        jobs = list(s.execute(select(JobRow).where(JobRow.user_id == u.id, JobRow.project_id == course.project_id,
                                                   JobRow.kind == RunKind.SESSION.value)).scalars())
        used_s = sum(((j.ended_at or utcnow()) - j.started_at).total_seconds() for j in jobs if j.started_at)
        out.append({"username": u.username, "name": u.display_name, "role": m.role,
                    "student_number": m.student_number, "sessions": len(jobs),
                    "running": [j.id for j in jobs if j.state in ACTIVE], "session_hours": round(used_s / 3600, 2)})
    return out
