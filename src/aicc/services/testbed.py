"""Benchmark runs and results: submit a run as an ordinary job, ingest its result, list, compare, matrix.

A run is a plain AICC job (queued, charged and placed like any other) whose command is the testbed runner.
The controller ingests a benchmark job's result when the job ends (``auto_ingest``); ``aicc bench ingest``
does the same by hand, idempotently. Results are center-wide facts: every signed-in user may read them;
only the job's own project (or a center admin) may ingest a job's result. A result is trusted (valid) only
from the center's own runner run from the center's code (``aicc.testbed.trust``): the job's command is the
server's interpreter in isolated mode (``python -I -m aicc.testbed.run``), its environment loads no other
code, and the result's runner hash equals the server's. A job that only *asks* for the runner (e.g. with
its own ``PYTHONPATH``) has its result stored invalid, with the reason, and never ranked.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.config import Settings
from aicc.core.benchmarks import KINDS, ResultFacts, build_matrix, explain_choice
from aicc.core.errors import InvalidInput, NotFound
from aicc.core.jobs import JobState
from aicc.services import audit
from aicc.services import jobs as jobs_svc
from aicc.services.principal import SYSTEM, Principal
from aicc.store.models import BenchResultRow, FlavorRow, JobRow, ProjectRow
from aicc.testbed import trust
from aicc.testbed.results import rows_from_document

RESULT_FILE = "bench-result.json"
FINISHED = (JobState.SUCCEEDED.value, JobState.FAILED.value)
"""The runner exits 1 when a result is invalid: such a job's result is ingested too (and never ranked)."""


@dataclass(frozen=True, slots=True)
class RunRequest:
    project_id: int
    flavor: str
    workload: str
    scenarios: Sequence[str] = ("Offline",)
    accelerators: int = 0
    cpus: int = 1
    memory_mb: int = 4096
    duration_ms: int = 10_000
    time_limit_s: int = 3600
    extra_args: Sequence[str] = ()


def runner_command(req: RunRequest, python: str | None = None) -> list[str]:
    """The job's argv: the server's own interpreter in isolated mode, so the job runs the center's runner from
    the center's installation and nothing a job could put on its path."""
    for s in req.scenarios:
        if s not in KINDS:
            raise InvalidInput(f"unknown scenario {s!r} (known: {', '.join(KINDS)})")
    return [*trust.runner_argv(python), "--workload", req.workload, "--scenario", ",".join(req.scenarios),
            "--duration-ms", str(req.duration_ms), "--flavor", req.flavor, *req.extra_args]


RUNNER_MODULES = ("numpy", "mlperf_loadgen")
"""What every run imports (the `[testbed]` extra); workloads add their own (ONNX Runtime, pydicom, …)."""


def missing_runner_modules(find: Any = None) -> list[str]:
    """The runner's modules the server's interpreter lacks: the job runs that interpreter, so a run submitted
    without them would only fail later with its cause buried in the job's stderr."""
    import importlib.util

    finder = find or importlib.util.find_spec
    return [m for m in RUNNER_MODULES if finder(m) is None]


def submit_run(s: Session, actor: Principal, settings: Settings, req: RunRequest) -> int:
    from aicc.testbed.workloads import available

    missing = missing_runner_modules()
    if missing:
        raise InvalidInput(f"this center cannot run benchmarks yet: its Python lacks {', '.join(missing)}; the "
                           "operator installs the testbed with `pip install 'aicc[testbed]'` (from a checkout: "
                           "`.venv/bin/pip install -e '.[testbed]'`) and restarts `aicc server`")
    if req.workload not in available():
        raise InvalidInput(f"unknown workload {req.workload!r} (known: {', '.join(sorted(available()))})")
    flavor = s.execute(select(FlavorRow).where(FlavorRow.name == req.flavor)).scalar_one_or_none()
    if flavor is None:
        raise InvalidInput(f"unknown flavor {req.flavor!r}")
    accelerators = 0 if flavor.is_cpu else max(1, req.accelerators)
    spec = jobs_svc.JobSpec(
        project_id=req.project_id, command=runner_command(req), name=f"bench-{req.workload}"[:128],
        flavors=[req.flavor], accelerators=accelerators, cpus=req.cpus, memory_mb=req.memory_mb,
        time_limit_s=req.time_limit_s, workload_class=None, env={})
    return jobs_svc.submit(s, actor, settings, spec).ids[0]


def _is_runner(job: JobRow) -> bool:
    return trust.looks_like_runner(list(job.command or []))


def untrusted_reasons(job: JobRow, doc: dict[str, Any]) -> list[str]:
    """Why this job's result is not the center's runner's (empty: trusted)."""
    return [*trust.job_reasons(list(job.command or []), job.env, job.script), *trust.result_reasons(doc),
            *trust.install_reasons()]


def ingest_job(s: Session, actor: Principal, settings: Settings, job_id: int) -> list[BenchResultRow]:
    """Read the finished job's ``bench-result.json`` and store it; again for the same job changes nothing."""
    job = jobs_svc.get(s, actor, job_id)
    if not _is_runner(job):
        raise InvalidInput(f"job {job_id} is not a benchmark run (its command is not `python -I -m "
                           "aicc.testbed.run`)")
    if job.state not in FINISHED:
        raise InvalidInput(f"job {job_id} is {job.state}; results are ingested once it has finished")
    existing = list(s.execute(select(BenchResultRow).where(BenchResultRow.job_id == job_id)).scalars())
    if existing:
        return existing
    path = jobs_svc.job_dir(settings, job_id) / RESULT_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"job {job_id} wrote no {RESULT_FILE} ({job.reason})") from None
    except (OSError, ValueError) as e:
        raise InvalidInput(f"job {job_id}: {RESULT_FILE} unreadable: {e}") from None
    flavor = s.execute(select(FlavorRow).where(FlavorRow.name == job.flavor)).scalar_one_or_none()
    units = job.cpus if flavor is not None and flavor.is_cpu else job.accelerators
    if not isinstance(doc, dict):
        raise InvalidInput(f"job {job_id}: {RESULT_FILE} is not a result document")
    reasons = untrusted_reasons(job, doc)
    return _store(s, actor, rows_from_document(doc, job_id=job_id, flavor=job.flavor, units=units,
                                               untrusted=reasons))


def auto_ingest(s: Session, settings: Settings, job_id: int) -> list[BenchResultRow]:
    """What the controller calls for every job that ends: ingest it when it is a finished benchmark run that
    wrote a result, else do nothing (no error: most jobs are not benchmarks)."""
    job = s.get(JobRow, job_id)
    if job is None or not _is_runner(job) or job.state not in FINISHED:
        return []
    if not (jobs_svc.job_dir(settings, job_id) / RESULT_FILE).is_file():
        return []
    return ingest_job(s, SYSTEM, settings, job_id)


def ingest_document(s: Session, actor: Principal, doc: dict[str, Any]) -> list[BenchResultRow]:
    """A result measured outside AICC's jobs (a vendor's lab, before the hardware joined): center admins only."""
    actor.require_center_admin()
    rows = rows_from_document(doc)
    key = rows[0]["run_key"]
    existing = list(s.execute(select(BenchResultRow).where(BenchResultRow.run_key == key)).scalars())
    return existing or _store(s, actor, rows)


def _store(s: Session, actor: Principal, rows: list[dict[str, Any]]) -> list[BenchResultRow]:
    out = [BenchResultRow(**r) for r in rows]
    s.add_all(out)
    s.flush()
    for r in out:
        audit.record(s, actor, "bench.result", "bench_result", r.id,
                     data={"job_id": r.job_id, "workload": r.workload, "scenario": r.scenario, "flavor": r.flavor,
                           "valid": r.valid})
    return out


def list_results(s: Session, *, workload_class: str | None = None, workload: str | None = None,
                 flavor: str | None = None, scenario: str | None = None, valid: bool | None = None,
                 limit: int = 200) -> list[BenchResultRow]:
    q = select(BenchResultRow).order_by(BenchResultRow.id.desc()).limit(limit)
    if workload_class:
        q = q.where(BenchResultRow.workload_class == workload_class)
    if workload:
        q = q.where(BenchResultRow.workload == workload)
    if flavor:
        q = q.where(BenchResultRow.flavor == flavor)
    if scenario:
        q = q.where(BenchResultRow.scenario == scenario)
    if valid is not None:
        q = q.where(BenchResultRow.valid.is_(valid))
    return list(s.execute(q).scalars())


def get_result(s: Session, result_id: int) -> BenchResultRow:
    row = s.get(BenchResultRow, result_id)
    if row is None:
        raise NotFound("benchmark result not found")
    return row


def matrix(s: Session) -> dict[str, dict[str, float]]:
    """Workload class → flavor → samples/s per unit, from valid results only."""
    cols = (BenchResultRow.workload_class, BenchResultRow.flavor, BenchResultRow.scenario, BenchResultRow.valid,
            BenchResultRow.samples_per_s, BenchResultRow.units, BenchResultRow.id)
    facts = [ResultFacts(c, f, sc, v, sps, u, float(i))
             for c, f, sc, v, sps, u, i in s.execute(select(*cols).where(BenchResultRow.valid.is_(True)))]
    return build_matrix(facts)


def su_rates(s: Session) -> dict[str, float]:
    return {f.name: f.su_rate for f in s.execute(select(FlavorRow).where(FlavorRow.retired.is_(False))).scalars()}


def effective_class(s: Session, job: JobRow) -> str | None:
    """The job's own class, else its project's default."""
    if job.workload_class:
        return job.workload_class
    project = s.get(ProjectRow, job.project_id)
    return project.workload_class if project is not None else None


def explain_job(s: Session, actor: Principal, job_id: int) -> str | None:
    """Why the job runs (or ran) on its flavor, measured against the matrix; None before it was placed."""
    job = jobs_svc.get(s, actor, job_id)
    if not job.flavor:
        return None
    return explain_choice(matrix(s), effective_class(s, job), job.flavor, su_rates(s), job.flavors)
