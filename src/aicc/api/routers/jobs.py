"""/api/v1/jobs: submit, list, show, cancel, logs; hold, release, requeue and update (``PATCH``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.api.deps import DB, Actor, Config
from aicc.api.schemas.common import MAX_ID, Cursor, Limit, Page, PathId, decode_cursor, encode_cursor
from aicc.api.schemas.jobs import Job, JobSubmit, JobSubmitted, JobUpdate, LogChunk
from aicc.config import Settings
from aicc.core.errors import Forbidden, NotFound
from aicc.core.jobs import JobState, RunKind
from aicc.services import job_control
from aicc.services import jobs as svc
from aicc.services.datazone import outputs, runs
from aicc.services.principal import Principal
from aicc.services.submission import Submitter
from aicc.store.models import JobRow, UserRow

router = APIRouter(prefix="/jobs", tags=["jobs"])
StateQ = Annotated[list[JobState] | None, Query(max_length=8)]
KindQ = Annotated[list[RunKind] | None, Query(max_length=3, description="Only runs of these kinds.")]


@router.post("", response_model=JobSubmitted, status_code=201)
async def submit_job(request: Request, actor: Actor, body: JobSubmit) -> JobSubmitted:
    """Returns as soon as the job is stored; the controller schedules it (`GET /jobs/{id}` says why it waits)."""
    submitter: Submitter = request.app.state.submitter
    project_id = body.project_id
    if project_id is None:
        ref = submitter.fresh()
        if ref is None:  # a trip through the thread pool only when the cached reference data is stale
            ref = await asyncio.to_thread(submitter.reference)
        project_id = next((pid for pid, (_, name) in ref.projects.items() if name == body.project), None)
        if project_id is None:
            raise NotFound(f"project {body.project!r} not found")
    spec = svc.JobSpec(
        project_id=project_id, command=body.command, script=body.script, name=body.name, flavors=body.flavors,
        accelerators=body.accelerators, cpus=body.cpus, memory_mb=body.memory_mb,
        time_limit_s=body.time_limit_s, priority=body.priority, env=body.env,
        workload_class=body.workload_class, depends_on=body.depends_on, array=body.array, datasets=body.datasets,
        image=body.image, tasks_per_node=body.tasks_per_node, mpi=body.mpi,
        notify=",".join(sorted(set(body.notify))),
    )
    done = await submitter.submit(actor, spec)
    wake = getattr(request.app.state, "wake_controller", None)
    if wake:
        wake()
    return JobSubmitted(id=done.ids[0], ids=done.ids, array_id=done.array_id)


@router.get("", response_model=Page[Job])
def list_jobs(
    db: DB, actor: Actor, settings: Config, limit: Limit = 50, cursor: Cursor = None,
    project_id: int | None = Query(None, ge=1, le=MAX_ID), state: StateQ = None,
    array_id: int | None = Query(None, ge=1, le=MAX_ID), mine: bool = False,
    kind: KindQ = None,
    order: Literal["asc", "desc"] = Query("asc", description="By id: oldest first, or newest first (desc)."),
) -> Page[Job]:
    with db.read() as s:
        pg = svc.list_jobs(s, actor, after=decode_cursor(cursor), limit=limit, project_id=project_id,
                           states=[x.value for x in state or []], array_id=array_id, mine=mine,
                           kinds=[k.value for k in kind or []],
                           newest_first=order == "desc")
        return Page(items=_views(s, actor, settings, pg.items), next_cursor=encode_cursor(pg.next_after))


@router.get("/{job_id}", response_model=Job)
def get_job(db: DB, actor: Actor, settings: Config, job_id: PathId) -> Job:
    with db.read() as s:
        return _views(s, actor, settings, [svc.get(s, actor, job_id)])[0]


def _views(s: Session, actor: Principal, settings: Settings, rows: list[JobRow]) -> list[Job]:
    """Jobs as ``actor`` may see them: a sensitive job's exact exit code and times only once its custodian
    released them (services.datazone.runs)."""
    held = runs.held_overrides(s, actor, rows, settings)
    ids = {j.user_id for j in rows}
    users = {uid: name for uid, name in s.execute(select(UserRow.id, UserRow.username).where(UserRow.id.in_(ids)))}
    return [Job.model_validate(j).model_copy(update={**held.get(j.id, {}), "user": users.get(j.user_id)})
            for j in rows]


def _controlled(request: Request, db: DB, actor: Principal, settings: Settings,
                act: Callable[[Session], JobRow]) -> Job:
    """One command on one job in one transaction, then a poke to the controller (it takes the change as a
    delta at once instead of at its next timed cycle)."""
    with db.write() as s:
        view = _views(s, actor, settings, [act(s)])[0]
    wake = getattr(request.app.state, "wake_controller", None)
    if wake:
        wake()
    return view


@router.post("/{job_id}/hold", response_model=Job)
def hold_job(request: Request, db: DB, actor: Actor, settings: Config, job_id: PathId) -> Job:
    """Keep a pending job from starting (`scontrol hold`): its reason says who holds it, until released."""
    return _controlled(request, db, actor, settings, lambda s: job_control.hold(s, actor, job_id))


@router.post("/{job_id}/release", response_model=Job)
def release_job(request: Request, db: DB, actor: Actor, settings: Config, job_id: PathId) -> Job:
    """Let a held job be scheduled again, in its original place in the queue."""
    return _controlled(request, db, actor, settings, lambda s: job_control.release(s, actor, job_id))


@router.post("/{job_id}/requeue", response_model=Job)
def requeue_job(request: Request, db: DB, actor: Actor, settings: Config, job_id: PathId) -> Job:
    """Run a job again as a new attempt: an ended one is pending again at once; a running one is stopped
    (SIGTERM, grace, SIGKILL) and requeued."""
    return _controlled(request, db, actor, settings, lambda s: job_control.requeue(s, actor, job_id))


@router.patch("/{job_id}", response_model=Job)
def update_job(request: Request, db: DB, actor: Actor, settings: Config, job_id: PathId, body: JobUpdate) -> Job:
    """Change a pending job's time limit, priority, flavors, size or name (`scontrol update`), checked as at
    submit; a job that has started is refused (409)."""
    changes = body.model_dump(exclude_none=True)
    return _controlled(request, db, actor, settings,
                       lambda s: job_control.update(s, actor, settings, job_id, changes))


@router.post("/{job_id}/cancel", response_model=list[Job])
def cancel_job(request: Request, db: DB, actor: Actor, settings: Config, job_id: PathId,
               array: bool = False) -> list[Job]:
    with db.write() as s:
        changed = _views(s, actor, settings, list(svc.cancel(s, actor, job_id, whole_array=array)))
    wake = getattr(request.app.state, "wake_controller", None)
    if wake:
        wake()
    return changed


@router.get("/{job_id}/logs", response_model=LogChunk)
def job_logs(
    db: DB, actor: Actor, settings: Config, job_id: PathId,
    stream: Annotated[str, Query(pattern="^(stdout|stderr)$")] = "stdout",
    offset: Annotated[int, Query(ge=0, le=2**50)] = 0,
    limit: Annotated[int, Query(ge=1, le=1 << 20)] = 64 * 1024,
    rank: Annotated[int | None, Query(ge=0, le=1 << 20, description="Only this rank's lines of a multi-node "
                                      "job (the merged view labels each line with its rank).")] = None,
) -> LogChunk:
    with db.read() as s:
        job = svc.get(s, actor, job_id)
        if outputs.is_held(s, job):
            raise Forbidden("this job read sensitive data: its logs are held with its outputs until the data "
                            "custodian releases them (aicc outputs list)")
        if rank is None:
            data, nxt, size = svc.read_log(settings, job, stream, offset, limit)
        else:
            data, nxt, size = svc.read_rank_log(settings, job, stream, offset, limit, rank)
        finished = job.state not in svc.ACTIVE
        return LogChunk(stream=stream, offset=offset, next_offset=nxt, size=size,
                        data=data.decode("utf-8", errors="replace"), finished=finished)
