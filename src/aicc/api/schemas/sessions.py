"""Wire models for interactive sessions (`/api/v1/sessions`)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from aicc.api.schemas.common import Ident, Name, Out, Strict
from aicc.api.schemas.jobs import FlavorName
from aicc.core.sessions import SessionKind, SessionPhase


class SessionStart(Strict):
    project_id: Ident | None = Field(None, description="Project to charge (or give `project`).")
    project: Name | None = Field(None, description="Project name, as an alternative to project_id.")
    kind: SessionKind = Field(SessionKind.JUPYTER, description="jupyter (JupyterLab) or terminal (a shell in it).")
    image: str | None = Field(None, min_length=1, max_length=512,
                              description="OCI image with `jupyter-lab` on its PATH; none: the center's JupyterLab "
                                          "on the host system.")
    flavors: list[FlavorName] = Field(default_factory=list, max_length=16)
    accelerators: int = Field(0, ge=0, le=64)
    cpus: int = Field(1, ge=1, le=256)
    memory_mb: int = Field(2048, ge=256, le=4 * 1024 * 1024)
    time_limit_s: int = Field(2 * 3600, ge=60, le=7 * 86400, description="The session ends at this limit.")
    idle_limit_s: int | None = Field(None, ge=0, le=7 * 86400,
                                     description="Stopped after this long without activity (0: never); default: "
                                                 "the center's (AICC_SESSION_IDLE).")


class SessionOut(Out):
    id: int = Field(description="The session's job id: it is listed with jobs (kind = session) and charged as one.")
    kind: SessionKind
    project_id: int
    phase: SessionPhase = Field(description="pending (waiting for capacity), starting, ready, ended.")
    state: str = Field(description="The job's state.")
    reason: str
    reason_code: str | None = Field(None, description="The reason as a code (see jobs).")
    url: str | None = Field(description="Where to open it (this server, signed in), once ready.")
    flavor: str | None
    accelerators: int
    submitted_at: dt.datetime
    started_at: dt.datetime | None
    ready_at: dt.datetime | None
    ended_at: dt.datetime | None
    last_activity_at: dt.datetime | None
    time_limit_s: int
    seconds_left: float | None
    warn_time_limit: bool = Field(description="Less than 10 minutes left: save your work.")
    idle_limit_s: int
    ended_why: str | None = Field(description="Why it ended or never became ready (idle; the server's log tail).")
