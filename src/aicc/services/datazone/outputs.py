"""Held outputs: what a job on sensitive data wrote, in quarantine until its custodian releases it.

When such a job ends, every file under its ``out/`` directory and its stdout and
stderr (logs leak too) become one output request. Checks run at once; the
project sees the files' names, sizes and check results but not their content;
a custodian of each dataset the job read views, approves or rejects file by
file. Only approved files can be downloaded, and only while their bytes still
match the checksum taken when they were held. Nothing is deleted before the
retention period ends. Every view, decision and download is an audit event.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.config import Settings
from aicc.core.datazone.checks import (
    CheckStatus,
    DataKnowledge,
    FileFacts,
    FileKind,
    OutputRules,
    acro_statuses,
    check_request,
)
from aicc.core.datazone.datasets import Classification, ColumnRole
from aicc.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from aicc.services import audit
from aicc.services.datazone.datasets import fingerprints_path, is_custodian
from aicc.services.datazone.files import Entry, read_limited, sha256_of, walk
from aicc.services.principal import Principal
from aicc.store.models import DatasetRow, JobRow, OutputFileRow, OutputRequestRow, ProjectRow, utcnow

LOGS = ("stdout.log", "stderr.log")
ACRO_RESULTS = "out/acro/results.json"
MAX_ACRO_RESULTS_BYTES = 8 << 20
MAX_HELD_FILES = 10_000


def sensitive_datasets(s: Session, job: JobRow) -> list[DatasetRow]:
    if not job.datasets:
        return []
    rows = s.execute(select(DatasetRow).where(DatasetRow.id.in_(job.datasets))).scalars()
    return [d for d in rows if d.classification == Classification.SENSITIVE.value]


def is_held(s: Session, job: JobRow) -> bool:
    """A job on sensitive data: its logs and files leave only through an output request."""
    return bool(sensitive_datasets(s, job))


def _knowledge(settings: Settings, datasets: list[DatasetRow]) -> DataKnowledge:
    ids = {c["name"] for d in datasets for c in d.columns if c["role"] == ColumnRole.IDENTIFIER.value}
    prints: set[str] = set()
    for d in datasets:
        path = fingerprints_path(settings, d)
        if path.exists():
            prints.update(line.strip() for line in path.read_text(encoding="ascii").splitlines() if line.strip())
    return DataKnowledge(frozenset(ids), frozenset(prints))


def _rules(settings: Settings) -> OutputRules:
    return OutputRules(max_file_bytes=settings.output_max_file_bytes)


def hold(s: Session, settings: Settings, job: JobRow) -> OutputRequestRow | None:
    """Quarantine and check what the finished job wrote; idempotent (one request per job)."""
    datasets = sensitive_datasets(s, job)
    if not datasets:
        return None
    existing = s.execute(select(OutputRequestRow).where(OutputRequestRow.job_id == job.id)).scalar_one_or_none()
    if existing is not None:
        return existing
    workdir = settings.jobs_dir / str(job.id)
    entries: list[Entry] = []
    out = workdir / "out"
    flood = False
    if out.is_dir() and not out.is_symlink():
        try:
            entries += [Entry("out/" + e.path, e.kind, e.size) for e in walk(out, limit=MAX_HELD_FILES)]
        except InvalidInput:
            flood = True  # held as one entry that can never be approved: nothing of it leaves
    for name in LOGS:
        log = workdir / name
        if log.is_file() and not log.is_symlink():
            entries.append(Entry(name, FileKind.FILE, log.stat().st_size))
    if flood:
        entries.insert(0, Entry("out/", FileKind.DIRECTORY, 0))
    rules = _rules(settings)
    known = {e.path for e in entries}
    acro: dict[str, tuple[str, str]] = {}
    if ACRO_RESULTS in known:
        raw = read_limited(workdir / ACRO_RESULTS, MAX_ACRO_RESULTS_BYTES)
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {}
        if isinstance(parsed, dict):
            acro = {"out/" + k: v for k, v in acro_statuses(parsed, {p[4:] for p in known}).items()}
    facts = []
    for e in entries:
        content = read_limited(workdir / e.path, rules.max_file_bytes) if e.kind is FileKind.FILE else None
        status, detail = acro.get(e.path, (None, ""))
        facts.append(FileFacts(e.path, e.kind, e.size, content, status, detail))
    results = check_request(facts, rules, _knowledge(settings, datasets))
    if flood:
        results["out/"].add(CheckStatus.FAIL, f"the job wrote more than {MAX_HELD_FILES} files; none is listed")
    now = utcnow()
    project = s.get(ProjectRow, job.project_id)
    req = OutputRequestRow(job_id=job.id, project_id=job.project_id,
                           custodian_ids=sorted({d.organization_id for d in datasets}),
                           dataset_ids=[d.id for d in datasets], state="checked", created_at=now,
                           retain_until=now + dt.timedelta(days=settings.output_retention_days))
    s.add(req)
    s.flush()
    for e in entries:
        r = results[e.path]
        s.add(OutputFileRow(request_id=req.id, path=e.path, kind=e.kind.value, size=e.size,
                            # a file over the size limit can never be approved: no need to read gigabytes
                            sha256=sha256_of(workdir / e.path)
                            if e.kind is FileKind.FILE and e.size <= rules.max_file_bytes else None,
                            check_status=r.status.value, check_reasons=r.reasons, comment=""))
    s.flush()
    audit.record(s, None, "output.hold", "output_request", req.id,
                 organization_id=project.organization_id if project else None,
                 data={"job": job.id, "datasets": [d.name for d in datasets],
                       "checks": {p: r.status.value for p, r in results.items()}})
    return req


@dataclass(frozen=True, slots=True)
class Access:
    custodian: bool
    member: bool


def _access(s: Session, actor: Principal, req: OutputRequestRow) -> Access:
    project = s.get(ProjectRow, req.project_id)
    member = project is not None and actor.sees_project(project.id, project.organization_id)
    custodian = actor.is_center_admin or any(is_custodian(actor, o) for o in req.custodian_ids)
    return Access(custodian, member)


def get(s: Session, actor: Principal, request_id: int) -> tuple[OutputRequestRow, Access]:
    req = s.get(OutputRequestRow, request_id)
    access = _access(s, actor, req) if req is not None else None
    if req is None or access is None or not (access.custodian or access.member):
        raise NotFound("output request not found")
    return req, access


def files(s: Session, request_id: int) -> list[OutputFileRow]:
    return list(s.execute(select(OutputFileRow).where(OutputFileRow.request_id == request_id)
                          .order_by(OutputFileRow.path)).scalars())


def list_requests(s: Session, actor: Principal, *, project_id: int | None = None,
                  state: str | None = None) -> list[OutputRequestRow]:
    q = select(OutputRequestRow).order_by(OutputRequestRow.id.desc())
    if project_id is not None:
        q = q.where(OutputRequestRow.project_id == project_id)
    if state is not None:
        q = q.where(OutputRequestRow.state == state)
    out = []
    for req in s.execute(q).scalars():
        a = _access(s, actor, req)
        if a.custodian or a.member:
            out.append(req)
    return out


def _file(s: Session, req: OutputRequestRow, file_id: int) -> OutputFileRow:
    f = s.get(OutputFileRow, file_id)
    if f is None or f.request_id != req.id:
        raise NotFound("output file not found")
    return f


def _unchanged(settings: Settings, req: OutputRequestRow, f: OutputFileRow) -> Path:
    path = settings.jobs_dir / str(req.job_id) / f.path
    if f.sha256 is None:
        raise Conflict(f"{f.path} was not checksummed when it was held (over the size limit or not a file); "
                       "it cannot be released")
    try:
        same = f.sha256 is not None and sha256_of(path) == f.sha256
    except OSError:
        same = False
    if not same:
        raise Conflict(f"{f.path} changed or vanished since it was held; it cannot be released")
    return path


def decide(s: Session, actor: Principal, settings: Settings, request_id: int, file_id: int, *, approve: bool,
           comment: str) -> OutputFileRow:
    req, access = get(s, actor, request_id)
    if not access.custodian:
        raise Forbidden("only a custodian of the datasets this job read may decide on its outputs")
    job = s.get(JobRow, req.job_id)
    if job is not None and job.user_id == actor.user_id:
        raise Forbidden("the author of a job cannot review its own outputs")
    f = _file(s, req, file_id)
    if f.decision is not None:
        raise Conflict(f"{f.path} was already {f.decision}")
    if approve:
        if f.kind != FileKind.FILE.value:
            raise Conflict(f"{f.path} is a {f.kind}, not a regular file: it is never released")
        if f.check_status == "fail" and len(comment.strip()) < 10:
            raise InvalidInput(f"{f.path} failed the automatic checks; approving it needs a comment saying why "
                               "it is safe (at least 10 characters)")
        _unchanged(settings, req, f)
    f.decision = "approved" if approve else "rejected"
    f.decided_by, f.decided_at, f.comment = actor.user_id, utcnow(), comment
    s.flush()
    if all(x.decision is not None for x in files(s, req.id)):
        req.state = "decided"
    project = s.get(ProjectRow, req.project_id)
    audit.record(s, actor, f"output.{f.decision}", "output_file", f.id,
                 organization_id=project.organization_id if project else None,
                 data={"request": req.id, "path": f.path, "sha256": f.sha256, "checks": f.check_status,
                       "comment": comment})
    return f


def read(s: Session, actor: Principal, settings: Settings, request_id: int, file_id: int) -> tuple[str, bytes]:
    """The file's bytes: for custodians (to review) any held file, for the project only approved ones."""
    req, access = get(s, actor, request_id)
    f = _file(s, req, file_id)
    if not access.custodian and f.decision != "approved":
        raise Forbidden(f"{f.path} has not been released by the data custodian")
    if f.kind != FileKind.FILE.value:
        raise Conflict(f"{f.path} is a {f.kind}; it has no content to show")
    path = _unchanged(settings, req, f)
    data = read_limited(path, max(f.size, 0))
    if data is None:
        raise Conflict(f"{f.path} could not be read")
    project = s.get(ProjectRow, req.project_id)
    audit.record(s, actor, "output.view" if access.custodian and f.decision != "approved" else "output.download",
                 "output_file", f.id, organization_id=project.organization_id if project else None,
                 data={"request": req.id, "path": f.path, "sha256": f.sha256})
    return f.path.rsplit("/", 1)[-1], data
