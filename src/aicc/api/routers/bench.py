"""/api/v1/bench: benchmark runs as jobs, their results, the throughput matrix, placement explanations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request

from aicc.api.deps import DB, Actor, Config
from aicc.api.schemas.bench import (
    BenchResult,
    BenchResultFull,
    BenchRun,
    BenchRunSubmitted,
    Explanation,
    IngestJob,
    Matrix,
    Scenario,
)
from aicc.api.schemas.common import PathId
from aicc.core.benchmarks import samples_per_su
from aicc.core.errors import NotFound
from aicc.services import jobs as jobs_svc
from aicc.services import testbed as svc
from aicc.store.models import ProjectRow

router = APIRouter(prefix="/bench", tags=["bench"])
NameQ = Annotated[str | None, Query(max_length=63, pattern=r"^[a-z0-9_.-]+$")]


@router.get("/workloads", response_model=dict[str, str])
def workloads(actor: Actor) -> dict[str, str]:
    """Workload name → `builtin` or the plugin (entry point) that provides it."""
    from aicc.testbed.workloads import available

    return available()


@router.post("/runs", response_model=BenchRunSubmitted, status_code=201)
def submit_run(request: Request, db: DB, actor: Actor, settings: Config, body: BenchRun) -> BenchRunSubmitted:
    """Submit a benchmark as an ordinary job on `flavor`, charged to the project; ingest it when it ends."""
    from sqlalchemy import select

    with db.write() as s:
        project_id = body.project_id
        if project_id is None:
            project_id = s.execute(select(ProjectRow.id).where(ProjectRow.name == body.project)).scalar_one_or_none()
            if project_id is None:
                raise NotFound(f"project {body.project!r} not found")
        req = svc.RunRequest(project_id, body.flavor, body.workload, tuple(body.scenarios), body.accelerators,
                             body.cpus, body.memory_mb, body.duration_ms, body.time_limit_s,
                             ("--max-batch", str(body.max_batch)))
        job_id = svc.submit_run(s, actor, settings, req)
    wake = getattr(request.app.state, "wake_controller", None)
    if wake:
        wake()
    return BenchRunSubmitted(job_id=job_id)


@router.post("/results/ingest", response_model=list[BenchResult])
def ingest_job(db: DB, actor: Actor, settings: Config, body: IngestJob) -> list[BenchResult]:
    """Store the result a finished benchmark job wrote; idempotent."""
    with db.write() as s:
        return [BenchResult.model_validate(r) for r in svc.ingest_job(s, actor, settings, body.job_id)]


@router.post("/results", response_model=list[BenchResult], status_code=201)
def ingest_document(db: DB, actor: Actor, document: Annotated[dict[str, Any], Body()]) -> list[BenchResult]:
    """A result file measured outside AICC's jobs (center admins only); kept with its provenance."""
    with db.write() as s:
        return [BenchResult.model_validate(r) for r in svc.ingest_document(s, actor, document)]


@router.get("/results", response_model=list[BenchResult])
def list_results(
    db: DB, actor: Actor, workload_class: NameQ = None, workload: NameQ = None, flavor: NameQ = None,
    scenario: Scenario | None = None, valid: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[BenchResult]:
    """Newest first; invalid results are listed (with their reasons) but never ranked."""
    with db.read() as s:
        rows = svc.list_results(s, workload_class=workload_class, workload=workload, flavor=flavor,
                                scenario=scenario, valid=valid, limit=limit)
        return [BenchResult.model_validate(r) for r in rows]


@router.get("/results/{result_id}", response_model=BenchResultFull)
def get_result(db: DB, actor: Actor, result_id: PathId) -> BenchResultFull:
    with db.read() as s:
        return BenchResultFull.model_validate(svc.get_result(s, result_id))


@router.get("/matrix", response_model=Matrix)
def matrix(db: DB, actor: Actor) -> Matrix:
    """The throughput matrix the `hetero` policy places by; also what `aicc sim --matrix` loads."""
    with db.read() as s:
        m, rates = svc.matrix(s), svc.su_rates(s)
    per_su = {c: {f: samples_per_su(v, rates[f]) for f, v in row.items() if f in rates} for c, row in m.items()}
    return Matrix(matrix=m, su_rates=rates, samples_per_su=per_su)


@router.get("/explain/{job_id}", response_model=Explanation)
def explain(db: DB, actor: Actor, job_id: PathId) -> Explanation:
    """Why the job got its flavor, in samples/SU against the other flavors it accepted."""
    with db.read() as s:
        text = svc.explain_job(s, actor, job_id)
        job = jobs_svc.get(s, actor, job_id)
        return Explanation(job_id=job_id, flavor=job.flavor, workload_class=svc.effective_class(s, job),
                           explanation=text)
