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
