"""/api/v1/sessions: start, list, show and stop interactive sessions (JupyterLab, terminals).

A session is a job of kind ``session``: `GET /jobs?kind=session` lists it with the others and usage charges it.
Only its owner sees it here; everyone else gets 404.
"""

from __future__ import annotations

import asyncio
import dataclasses

from fastapi import APIRouter, Request, Response

from aicc.api.deps import DB, Actor, Config
from aicc.api.schemas.common import PathId
from aicc.api.schemas.sessions import SessionOut, SessionStart
from aicc.core.errors import NotFound
from aicc.services import sessions as svc
from aicc.services.jobs import load_reference

router = APIRouter(prefix="/sessions", tags=["sessions"])


def _out(v: svc.SessionView) -> SessionOut:
    data = dataclasses.asdict(v)
    data.pop("reason_params")
    return SessionOut.model_validate(data)


@router.post("", response_model=SessionOut, status_code=201)
async def start_session(request: Request, db: DB, actor: Actor, settings: Config, body: SessionStart) -> SessionOut:
    """Scheduled like a job (quota, fair share, budget); `phase` moves pending → starting → ready."""

    def run() -> SessionOut:
        with db.write() as s:
            project_id = body.project_id
            if project_id is None:
                ref = load_reference(s)
                project_id = next((pid for pid, (_, name) in ref.projects.items() if name == body.project), None)
                if project_id is None:
                    raise NotFound(f"project {body.project!r} not found")
            spec = svc.SessionSpec(project_id=project_id, kind=body.kind, image=body.image, flavors=body.flavors,
                                   accelerators=body.accelerators, cpus=body.cpus, memory_mb=body.memory_mb,
                                   time_limit_s=body.time_limit_s, idle_limit_s=body.idle_limit_s)
            job = svc.start(s, actor, settings, spec)
            return _out(svc.get(s, actor, settings, job.id))

    out = await asyncio.to_thread(run)
    wake = getattr(request.app.state, "wake_controller", None)
    if wake:
        wake()
    return out


@router.get("", response_model=list[SessionOut])
def list_sessions(db: DB, actor: Actor, settings: Config, live: bool = False) -> list[SessionOut]:
    """Your sessions, newest first (`live=true`: only those not ended)."""
    with db.read() as s:
        return [_out(v) for v in svc.list_mine(s, actor, settings, live_only=live)]


@router.get("/{session_id}", response_model=SessionOut)
def get_session(db: DB, actor: Actor, settings: Config, session_id: PathId) -> SessionOut:
    with db.read() as s:
        return _out(svc.get(s, actor, settings, session_id))


@router.delete("/{session_id}", status_code=204)
def stop_session(request: Request, db: DB, actor: Actor, session_id: PathId) -> Response:
    """Stops it (files in the job directory stay; the run's private /tmp goes)."""
    with db.write() as s:
        svc.stop(s, actor, session_id)
    wake = getattr(request.app.state, "wake_controller", None)
    if wake:
        wake()
    return Response(status_code=204)
