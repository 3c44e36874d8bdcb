"""Jobs: submit (validated at the edge of the system), list, show, cancel, read logs.

Submission only writes rows: the controller (``aicc.controller``) decides when
they run. Everything a user could get wrong is checked here, at submit, with a
reason they can act on, so nothing waits forever for a flavor the center does not
have or a budget it will never get.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Select, Table, insert, select, update
from sqlalchemy.orm import Session

from aicc.config import Settings
from aicc.core.datazone.states import DatasetState, GrantState, needs_grant, needs_sandbox
from aicc.core.errors import InvalidInput, NotFound
from aicc.core.images import ImageRef, parse_image_ref
from aicc.core.jobs import JobState, parse_array
from aicc.core.jobs.reasons import Reason, ReasonCode
from aicc.core.jobs.reasons import columns as reason_columns
from aicc.core.names import ENV_VAR_RE, check_job_name
from aicc.executors.base import log_file
from aicc.services import audit, projects
from aicc.services.notify import events as notify_events
from aicc.services.paging import Page, page
from aicc.services.principal import Principal
from aicc.store import bulk, changes
from aicc.store.models import (
    AllocationRow,
    DatasetRow,
    FlavorRow,
    GrantRow,
    JobRow,
    NodeRow,
    ProjectRow,
    utcnow,
)

JOBS = cast(Table, JobRow.__table__)
RESERVED_ENV_PREFIXES = ("AICC_", "SLURM_")
RESERVED_ENV = frozenset({"CUDA_VISIBLE_DEVICES", "RBLN_DEVICES", "FURIOSA_DEVICES", "HIP_VISIBLE_DEVICES",
                          "LD_PRELOAD", "PATH", "HOME"})
MAX_ENV_BYTES = 64 * 1024
ACTIVE = (JobState.PENDING.value, JobState.ADMITTED.value, JobState.RUNNING.value)


@dataclass(frozen=True, slots=True)
class JobSpec:
    project_id: int
    command: Sequence[str]
    script: str | None = None
    name: str | None = None
    flavors: Sequence[str] = ()
    accelerators: int = 0
    cpus: int = 1
    memory_mb: int = 4096
    time_limit_s: int = 3600
    priority: int = 0
    env: Mapping[str, str] = field(default_factory=dict)
    workload_class: str | None = None
    depends_on: Sequence[int] = ()
    array: str | None = None
    datasets: Sequence[str] = ()
    """Names of datasets to read; a sensitive one needs the project's grant and runs in the sandbox."""
    image: str | None = None
    """An OCI image reference (tag or digest) from an allowed registry; None runs on the host's system."""
    tasks_per_node: int = 1
    """Processes per placed node (a gang wider than a node runs one per node at least)."""
    mpi: bool = False
    """Start the tasks under the engine's MPI launcher."""
    notify: str = ""
    """Comma list of end, fail: queue a notification to the submitter when the job ends (services/notify)."""


@dataclass(frozen=True, slots=True)
class Submitted:
    ids: list[int]
    array_id: int | None


def _capacity(s: Session) -> dict[str, tuple[FlavorRow, list[NodeRow]]]:
    flavors = {f.id: f for f in s.execute(select(FlavorRow).where(FlavorRow.retired.is_(False))).scalars()}
    out: dict[str, tuple[FlavorRow, list[NodeRow]]] = {f.name: (f, []) for f in flavors.values()}
    for n in s.execute(select(NodeRow).where(NodeRow.retired.is_(False))).scalars():
        if n.flavor_id in flavors:
            out[flavors[n.flavor_id].name][1].append(n)
    return out


def fits_somewhere(flavor: FlavorRow, nodes: list[NodeRow], accelerators: int, cpus: int, memory_mb: int) -> str | None:
    """None if the center could ever run this gang on ``flavor``; else why not."""
    if not nodes:
        return f"{flavor.name} has no nodes"
    if flavor.is_cpu:
        if accelerators:
            return f"{flavor.name} is a CPU flavor; ask for 0 accelerators"
        if not any(n.cpus >= cpus and n.memory_gb * 1024 >= memory_mb for n in nodes):
            biggest = max(nodes, key=lambda n: n.cpus)
            return f"no {flavor.name} node has {cpus} CPUs and {memory_mb} MB (largest: {biggest.cpus} CPUs)"
        return None
    if accelerators == 0:
        return f"{flavor.name} is an accelerator flavor; ask for at least 1 accelerator or use a CPU flavor"
    per_node = max(n.accelerators for n in nodes)
    if accelerators <= per_node:
        ok = any(n.accelerators >= accelerators and n.cpus >= cpus and n.memory_gb * 1024 >= memory_mb for n in nodes)
        return None if ok else f"no {flavor.name} node has {accelerators} accelerators with {cpus} CPUs and " \
                               f"{memory_mb} MB"
    needed = math.ceil(accelerators / per_node)
    whole = sorted(nodes, key=lambda n: -n.accelerators)[:needed]
    if sum(n.accelerators for n in whole) < accelerators:
        total = sum(n.accelerators for n in nodes)
        if total < accelerators:
            return f"{flavor.name} has only {total} accelerators in all"
        # a gang takes the fewest nodes (as the scheduler places it): mixed node sizes may never hold it
        return f"no {needed} {flavor.name} nodes hold {accelerators} accelerators together (a gang wider than " \
               f"a node takes the fewest nodes it can)"
    if cpus > sum(n.cpus for n in whole) or memory_mb > sum(n.memory_gb for n in whole) * 1024:
        span = f"{accelerators} {flavor.name} accelerators span {needed} nodes"
        return f"{span}, which together lack {cpus} CPUs or {memory_mb} MB"
    return None


def tasks_fit(flavor: FlavorRow, nodes: list[NodeRow], spec: JobSpec) -> str | None:
    """None if ``--tasks-per-node`` fits a node of ``flavor`` as this job gets it: no more tasks than the
    accelerators the job has on a node (a gang fills whole nodes first), or than its cores on a CPU flavor."""
    tasks = spec.tasks_per_node
    if tasks < 1:
        return "tasks per node must be at least 1"
    if tasks == 1 or not nodes:
        return None
    if flavor.is_cpu:
        return None if tasks <= spec.cpus else \
            f"--tasks-per-node {tasks} is more than the {spec.cpus} cores the job asks for on its {flavor.name} node"
    per_node = min(spec.accelerators, max(n.accelerators for n in nodes))
    return None if tasks <= per_node else \
        f"--tasks-per-node {tasks} is more than the {per_node} {flavor.name} accelerators the job gets on a node"


def _validate_env(env: Mapping[str, str]) -> None:
    if len(env) > 128:
        raise InvalidInput("env: at most 128 variables")
    size = 0
    for key, value in env.items():
        if not ENV_VAR_RE.match(key):
            raise InvalidInput(f"env: {key!r} is not a valid variable name")
        if key in RESERVED_ENV or key.startswith(RESERVED_ENV_PREFIXES):
            raise InvalidInput(f"env: {key} is set by AICC and cannot be overridden")
        if "\x00" in value:
            raise InvalidInput(f"env: {key} contains a NUL byte")
        size += len(key) + len(value.encode()) + 2
    if size > MAX_ENV_BYTES:
        raise InvalidInput(f"env: {size} bytes; at most {MAX_ENV_BYTES}")


GPU_VENDORS = frozenset({"nvidia"})
"""What "GPUs" means when a job names no flavor: NVIDIA-style (CUDA) GPUs, never an NPU by surprise."""
ANY_ACCELERATOR = "any"


def default_flavors(capacity: Mapping[str, tuple[FlavorRow, list[NodeRow]]], asked: Sequence[str],
                    accelerators: int) -> list[str]:
    """The flavors a job accepts. Named ones (lowercase); none: CPU flavors for a CPU job, the center's GPU
    flavors for an accelerator job (every accelerator flavor where it has no GPU); ``any``: every accelerator
    flavor, NPUs included, for code that runs on either."""
    wanted = list(dict.fromkeys(f.lower() for f in asked))
    if wanted == [ANY_ACCELERATOR] and ANY_ACCELERATOR not in capacity:
        return [name for name, (f, _) in capacity.items() if not f.is_cpu]
    if wanted:
        return wanted
    if accelerators == 0:
        return [name for name, (f, _) in capacity.items() if f.is_cpu]
    gpus = [name for name, (f, _) in capacity.items() if f.vendor in GPU_VENDORS]
    return gpus or [name for name, (f, _) in capacity.items() if not f.is_cpu]


@dataclass(frozen=True, slots=True)
class Reference:
    """What submission checks read: the inventory, projects and which of them can be charged.

    Loaded in one go so the fast submission path (``services.submission``) can keep a
    copy for a few seconds instead of querying it for every job.
    """

    capacity: dict[str, tuple[FlavorRow, list[NodeRow]]]
    projects: dict[int, tuple[int, str]]  # id -> (organization id, name)
    chargeable: frozenset[int]  # projects with a current or upcoming allocation
    datasets: dict[str, tuple[int, str, int]] = field(default_factory=dict)
    """Published datasets: name -> (id, classification, custodian organization)."""
    grants: frozenset[tuple[int, int]] = frozenset()
    """(project, dataset) pairs with a live grant."""


def load_reference(s: Session) -> Reference:
    now = utcnow()
    projects_ = {p.id: (p.organization_id, p.name) for p in s.execute(select(ProjectRow)).scalars()}
    chargeable = frozenset(s.execute(select(AllocationRow.project_id).where(AllocationRow.ends_at > now)).scalars())
    datasets = {d.name: (d.id, d.classification, d.organization_id) for d in s.execute(
        select(DatasetRow).where(DatasetRow.state == DatasetState.PUBLISHED)).scalars()}
    grants = frozenset((pid, did) for pid, did in s.execute(select(GrantRow.project_id, GrantRow.dataset_id).where(
        GrantRow.state == GrantState.APPROVED, GrantRow.expires_at > now)))
    return Reference(_capacity(s), projects_, chargeable, datasets, grants)


def _datasets(actor: Principal, spec: JobSpec, ref: Reference) -> list[int]:
    """Ids of the datasets the job reads, each published and, if sensitive, granted to its project."""
    if len(spec.datasets) > 16:
        raise InvalidInput("datasets: at most 16 per job")
    ids = []
    for name in dict.fromkeys(spec.datasets):
        found = ref.datasets.get(name)
        if found is None:
            raise InvalidInput(f"dataset {name!r} not found or not published")
        ds_id, classification, custodian = found
        if needs_grant(classification) and (spec.project_id, ds_id) not in ref.grants:
            if not actor.sees_org(custodian):
                raise InvalidInput(f"dataset {name!r} not found or not published")
            raise InvalidInput(f"project has no live grant for dataset {name!r}: ask its custodian")
        ids.append(ds_id)
    return ids


@dataclass(frozen=True, slots=True)
class Prepared:
    spec: JobSpec
    organization_id: int
    project_name: str
    flavors: list[str]
    indexes: list[int | None]
    max_running: int | None
    name: str
    dataset_ids: list[int] = field(default_factory=list)
    image: ImageRef | None = None


def check(actor: Principal, settings: Settings, spec: JobSpec, ref: Reference) -> Prepared:
    """Everything about a submission that needs no transaction; raises with a reason the user can act on."""
    org = ref.projects.get(spec.project_id)
    if org is None or not actor.sees_project(spec.project_id, org[0]):
        raise NotFound("project not found")
    if not spec.command and not spec.script:
        raise InvalidInput("give a command or a script")
    if not 1 <= spec.time_limit_s <= settings.max_time_limit_s:
        raise InvalidInput(f"time limit must be between 1 s and {settings.max_time_limit_s // 3600} h "
                           "(the center's maximum)")
    _validate_env(spec.env)
    capacity = ref.capacity
    wanted = default_flavors(capacity, spec.flavors, spec.accelerators)
    unknown = [f for f in wanted if f not in capacity]
    if unknown:
        raise InvalidInput(f"unknown flavor {', '.join(unknown)}; the center has {', '.join(sorted(capacity))}")
    problems = {f: fits_somewhere(capacity[f][0], capacity[f][1], spec.accelerators, spec.cpus, spec.memory_mb)
                or tasks_fit(capacity[f][0], capacity[f][1], spec) for f in wanted}
    runnable = [f for f in wanted if problems[f] is None]
    if not runnable:
        raise InvalidInput("no flavor of this center could ever run this job: " +
                           "; ".join(p for p in problems.values() if p))
    if spec.project_id not in ref.chargeable:
        raise InvalidInput(f"project {org[1]} has no current or upcoming allocation to charge")
    indexes: list[int | None] = [None]
    max_running = None
    if spec.array:
        array = parse_array(spec.array, limit=settings.max_array)
        indexes, max_running = list(array.indexes), array.max_running
    name = check_job_name(spec.name) if spec.name else (Path(spec.command[0]).name if spec.command else "script")
    dataset_ids = _datasets(actor, spec, ref) if spec.datasets else []
    image = parse_image_ref(spec.image, settings.registry_policy) if spec.image is not None else None
    if image is not None and needs_sandbox(ref.datasets[n][1] for n in spec.datasets if n in ref.datasets):
        raise InvalidInput("a job on sensitive data cannot run in an image yet: submit it without --image")
    return Prepared(spec, org[0], org[1], runnable, indexes, max_running, name[:128], dataset_ids, image)


def _row(actor: Principal, p: Prepared, now: dt.datetime) -> dict[str, Any]:
    spec = p.spec
    return {
        "project_id": spec.project_id, "user_id": actor.user_id, "name": p.name, "state": JobState.PENDING.value,
        **reason_columns(Reason(ReasonCode.SUBMITTED)), "command": list(spec.command), "script": spec.script,
        "flavors": p.flavors, "accelerators": spec.accelerators, "cpus": spec.cpus, "memory_mb": spec.memory_mb,
        "time_limit_s": spec.time_limit_s, "priority": spec.priority, "env": dict(spec.env),
        "workload_class": spec.workload_class, "depends_on": list(spec.depends_on), "submitted_at": now,
        "array_max_running": p.max_running, "attempt": 0, "borrowed": False, "metered_intervals": 0,
        "cancel_requested": False, "preempt_requested": False, "version": 1, "array_id": None,
        "array_index": p.indexes[0], "datasets": p.dataset_ids,
        "image_ref": str(p.image) if p.image else None, "image_digest": p.image.digest if p.image else None,
        "tasks_per_node": spec.tasks_per_node, "mpi": spec.mpi,
    }


def _audit_data(p: Prepared, tasks: int) -> dict[str, Any]:
    data = {"project": p.project_name, "tasks": tasks, "flavors": p.flavors, "accelerators": p.spec.accelerators,
            "time_limit_s": p.spec.time_limit_s}
    if p.dataset_ids:
        data["datasets"] = p.dataset_ids
    if p.image:
        data["image"] = str(p.image)
    return data


def write_many(s: Session, items: list[tuple[Principal, Prepared]]) -> list[Submitted]:
    """Plain jobs (no array, no dependency) in one multi-row insert and one audit append."""
    assert all(not p.spec.array and not p.spec.depends_on for _, p in items)
    if not items:
        return []
    now = utcnow()
    table = JOBS
    seq = changes.stamp(s, changes.JOBS)
    ids = bulk.insert_ids(s, table, [{**_row(actor, p, now), "change_seq": seq} for actor, p in items])
    audit.record_many(s, [(actor, "job.submit", "job", job_id, p.organization_id, _audit_data(p, 1))
                          for (actor, p), job_id in zip(items, ids, strict=True)])
    for (actor, p), job_id in zip(items, ids, strict=True):
        notify_events.opt_in(s, [job_id], actor.user_id, p.spec.notify)
    return [Submitted([job_id], None) for job_id in ids]


def write(s: Session, actor: Principal, p: Prepared) -> Submitted:
    """Insert the checked job (or array) and its audit event in the caller's transaction."""
    spec = p.spec
    for dep in spec.depends_on:
        dep_job = s.get(JobRow, dep)
        if dep_job is None or not _visible_job(s, actor, dep_job):
            raise InvalidInput(f"dependency: job {dep} not found")
    base = {**_row(actor, p, utcnow()), "change_seq": changes.stamp(s, changes.JOBS)}
    table = JOBS
    first = s.execute(insert(table).returning(table.c.id), [base]).scalar_one()
    ids = [first]
    array_id = first if spec.array else None
    if spec.array:
        s.execute(update(JobRow).where(JobRow.id == first).values(array_id=first))
        if len(p.indexes) > 1:
            rows = [{**base, "array_id": first, "array_index": i} for i in p.indexes[1:]]
            ids += bulk.insert_ids(s, table, rows)
    audit.record(s, actor, "job.submit", "job", first, organization_id=p.organization_id,
                 data=_audit_data(p, len(ids)))
    notify_events.opt_in(s, ids, actor.user_id, spec.notify)
    return Submitted(ids, array_id)


def submit(s: Session, actor: Principal, settings: Settings, spec: JobSpec) -> Submitted:
    """Check and write in one transaction (the plain path; the API uses ``services.submission``)."""
    return write(s, actor, check(actor, settings, spec, load_reference(s)))


def _visible_job(s: Session, actor: Principal, job: JobRow) -> bool:
    p = s.get(ProjectRow, job.project_id)
    return p is not None and actor.sees_project(p.id, p.organization_id)


def get(s: Session, actor: Principal, job_id: int) -> JobRow:
    job = s.get(JobRow, job_id)
    if job is None or not _visible_job(s, actor, job):
        raise NotFound("job not found")
    return job


def query(actor: Principal) -> Select[Any]:
    return select(JobRow).join(ProjectRow, ProjectRow.id == JobRow.project_id).where(projects.visible(actor))


def list_jobs(
    s: Session, actor: Principal, *, after: int | None, limit: int, project_id: int | None = None,
    states: Sequence[str] = (), array_id: int | None = None, mine: bool = False, newest_first: bool = False,
    kinds: Sequence[str] = (),
) -> Page[JobRow]:
    q = query(actor)
    if kinds:
        q = q.where(JobRow.kind.in_(list(kinds)))
    if project_id is not None:
        q = q.where(JobRow.project_id == project_id)
    if states:
        q = q.where(JobRow.state.in_(list(states)))
    if array_id is not None:
        q = q.where(JobRow.array_id == array_id)
    if mine:
        q = q.where(JobRow.user_id == actor.user_id)
    return page(s, q, JobRow.id, after, limit, descending=newest_first)


def cancel(s: Session, actor: Principal, job_id: int, *, whole_array: bool = False) -> list[JobRow]:
    """Pending jobs end at once; admitted or running ones are killed by the controller (SIGTERM, grace, SIGKILL)."""
    job = get(s, actor, job_id)
    p = s.get(ProjectRow, job.project_id)
    if p is not None and job.user_id != actor.user_id and not actor.is_org_admin(p.organization_id):
        raise InvalidInput("only the submitter or an organization admin may cancel this job")
    targets = [job]
    if whole_array and job.array_id is not None:
        targets = list(s.execute(select(JobRow).where(JobRow.array_id == job.array_id)).scalars())
    now = utcnow()
    changed = []
    for t in targets:
        if t.state == JobState.PENDING.value:
            t.state, t.ended_at = JobState.CANCELLED.value, now
            t.set_reason(Reason(ReasonCode.CANCELLED_BY, {"user": actor.username}))
            changed.append(t)
        elif t.state in (JobState.ADMITTED.value, JobState.RUNNING.value) and not t.cancel_requested:
            t.cancel_requested = True
            t.set_reason(Reason(ReasonCode.CANCEL_REQUESTED_BY, {"user": actor.username}))
            changed.append(t)
    if changed:
        audit.record(s, actor, "job.cancel", "job", job.id, organization_id=p.organization_id if p else None,
                     data={"jobs": [t.id for t in changed]})
    return changed


def job_dir(settings: Settings, job_id: int) -> Path:
    return settings.jobs_dir / str(job_id)


def read_log(settings: Settings, job: JobRow, stream: str, offset: int, limit: int) -> tuple[bytes, int, int]:
    """Bytes [offset, offset+limit) of the job's stdout or stderr, the next offset and the file's size."""
    if stream not in ("stdout", "stderr"):
        raise InvalidInput("stream must be stdout or stderr")
    path = job_dir(settings, job.id) / log_file(stream)
    try:
        with path.open("rb") as f:
            size = f.seek(0, 2)
            f.seek(min(offset, size))
            data = f.read(limit)
    except FileNotFoundError:
        return b"", offset, 0
    return data, min(offset, size) + len(data), size


def read_rank_log(settings: Settings, job: JobRow, stream: str, offset: int, limit: int,
                  rank: int) -> tuple[bytes, int, int]:
    """One rank's lines of a multi-node job's merged log (each line there carries its rank's label), labels
    removed. ``next_offset`` counts bytes of the merged file: only whole lines are consumed while the job runs,
    so a follower never splits one."""
    from aicc.executors.tasks import rank_lines

    ranks = max(1, len(job.placement or [])) * (job.tasks_per_node or 1)
    if ranks == 1 and not job.mpi:
        raise InvalidInput(f"job {job.id} runs as one task: it has no ranks (leave out rank)")
    if rank >= ranks:
        raise InvalidInput(f"rank {rank}: job {job.id} has ranks 0 to {ranks - 1}")
    data, nxt, size = read_log(settings, job, stream, offset, limit)
    start = nxt - len(data)
    complete = job.state not in ACTIVE and nxt >= size
    out, used = rank_lines(data, rank, complete=complete)
    if used == 0 and len(data) >= limit:  # one line longer than a whole chunk: take the chunk
        out, used = rank_lines(data, rank, complete=True)
    return out, start + used, size


def waiting_since(job: JobRow, now: dt.datetime) -> float:
    return (now - job.submitted_at).total_seconds()
