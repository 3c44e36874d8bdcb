"""What a session adds to its job row: the server it runs, when it became ready, when it was last used.

The run itself (project, resources, state, charging) is the job row of kind ``session``; nothing about
resources lives here, so the scheduler sees one model.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from aicc.store.models.base import Base, UTCDateTime


class SessionRow(Base):
    __tablename__ = "sessions"
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), primary_key=True)
    server: Mapped[str] = mapped_column(String(16))
    """:class:`aicc.core.sessions.SessionKind`: jupyter or terminal."""
    token: Mapped[str] = mapped_column(String(64))
    """The server's own token: the proxy sends it upstream; it never leaves the server (not in the API, not in a
    URL). Useless outside: the server listens only on a socket in the run's private directory."""
    idle_limit_s: Mapped[int] = mapped_column(Integer)
    ready_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_activity_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    connections: Mapped[int] = mapped_column(Integer, default=0)
    ended_why: Mapped[str | None] = mapped_column(Text)
    """Why the server stopped it (idle), or why it never became ready (the log's tail)."""


class CourseRow(Base):
    """A course (교육과정): a project that holds its allocation, with instructors, a roster and per-student limits."""

    __tablename__ = "courses"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    """The course's project: its allocation is the course allocation, its members the roster."""
    image: Mapped[str | None] = mapped_column(String(512))
    max_sessions: Mapped[int] = mapped_column(Integer, default=1)
    """Sessions a student may have at once."""
    accelerator_hours_per_day: Mapped[int] = mapped_column(Integer, default=0)
    """Accelerator-hours a student's sessions may reserve per day (time limit x accelerators); 0: no cap."""


class CourseMemberRow(Base):
    __tablename__ = "course_members"
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    """instructor or student."""
    student_number: Mapped[str | None] = mapped_column(String(32))
