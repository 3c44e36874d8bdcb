"""Held outputs: what a job on sensitive data wrote, in quarantine until its custodian releases it.

When such a job ends, every file under its ``out/`` directory, its stdout and
stderr (logs leak too) and ``run.json`` (its exact exit status and times, which
leak too) become one output request. Checks run at once, on the server; a
custodian of each dataset the job read sees everything and approves or rejects
file by file. The project sees only how many files are held, and each file once
it is approved: no name, size, check reason or content before (a name or a size
can carry data as well as content can). Only approved files can be downloaded,
and only while their bytes still match the checksum taken when they were held.
Nothing is deleted before the retention period ends. Every view, decision and
download is an audit event, filed under the organization that acted (the
custodian's for holding, viewing and deciding).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.config import Settings
from aicc.core.datazone.checks import (
    DEFAULT_THRESHOLD,
    CheckResult,
    CheckStatus,
    DataKnowledge,
    FileFacts,
    FileKind,
    OutputRules,
    check_request,
)
from aicc.core.datazone.datasets import ColumnRole
from aicc.core.datazone.states import Action, FileDecision, OutputState, decide_file, move, needs_sandbox
from aicc.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from aicc.core.notify import Event
from aicc.executors.base import log_file
from aicc.services import audit
from aicc.services.datazone.datasets import is_custodian, load_prints
from aicc.services.datazone.files import Entry, read_limited, sha256_of, walk
from aicc.services.notify import events as notify_events
from aicc.services.principal import Principal
from aicc.store.models import DatasetRow, JobRow, OutputFileRow, OutputRequestRow, ProjectRow, utcnow

log = logging.getLogger(__name__)
LOGS = (log_file("stdout"), log_file("stderr"))
RUN_FILE = "run.json"
MAX_HELD_FILES = 10_000
MAX_PATH_CHARS = 500  # the column holds 512
HELD_NOTE = "held for review"


def sensitive_datasets(s: Session, job: JobRow) -> list[DatasetRow]:
    if not job.datasets:
        return []
    rows = s.execute(select(DatasetRow).where(DatasetRow.id.in_(job.datasets))).scalars()
    return [d for d in rows if needs_sandbox([d.classification])]


def is_held(s: Session, job: JobRow) -> bool:
    """A job on sensitive data: its logs and files leave only through an output request."""
    return bool(sensitive_datasets(s, job))


def _knowledge(settings: Settings, datasets: list[DatasetRow]) -> DataKnowledge:
    ids = {c["name"] for d in datasets for c in d.columns if c["role"] == ColumnRole.IDENTIFIER.value}
    legacy: set[str] = set()
    records: set[str] = set()
    hashes: set[str] = set()
    lengths: set[int] = set()
    columns: set[tuple[str, ...]] = set()
    for d in datasets:
        prints, old = load_prints(settings, d)
        legacy |= old
        records |= prints.records
        hashes |= prints.identifiers
        lengths |= prints.identifier_lengths
        columns |= prints.columns
    thresholds = [int(d.sdc["threshold"]) for d in datasets if "threshold" in (d.sdc or {})]
    return DataKnowledge(frozenset(ids), frozenset(legacy), frozenset(records), frozenset(hashes),
                         frozenset(lengths), frozenset(columns), max(thresholds, default=DEFAULT_THRESHOLD))


def _rules(settings: Settings) -> OutputRules:
    return OutputRules(max_file_bytes=settings.output_max_file_bytes)


def _name_error(path: str) -> tuple[str, str]:
    """(the path as it can be stored and shown, why it can never be released or "")."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")
        return _fit(shown), ("its name is not valid UTF-8 (shown with \\x escapes): it is held, and it can "
                             "never be released")
    if len(path) > MAX_PATH_CHARS:
        return _fit(path), "its name is too long to keep: it is held, and it can never be released"
    return path, ""


def _fit(path: str) -> str:
    return path if len(path) <= MAX_PATH_CHARS else path[:MAX_PATH_CHARS - 1] + "…"


def _write_run_file(workdir: Path, job: JobRow) -> None:
    """The run's exact outcome as a held file: released to the project only when the custodian approves it
    (an exit code or a run time can carry a value as well as a file can)."""
    run = {"job": job.id, "state": job.state, "exit_code": job.exit_code, "reason": job.reason,
           "started_at": job.started_at.isoformat() if job.started_at else None,
           "ended_at": job.ended_at.isoformat() if job.ended_at else None,
           "run_time_s": (job.ended_at - job.started_at).total_seconds()
           if job.started_at and job.ended_at else None}
    tmp = workdir / f".{RUN_FILE}.tmp"
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(run, f, indent=1)
    os.replace(tmp, workdir / RUN_FILE)


def _entries(workdir: Path) -> tuple[list[Entry], bool]:
    entries: list[Entry] = []
    out = workdir / "out"
    flood = False
    if out.is_dir() and not out.is_symlink():
        try:
            entries += [Entry("out/" + e.path, e.kind, e.size) for e in walk(out, limit=MAX_HELD_FILES)]
        except InvalidInput:
            flood = True  # held as one entry that can never be approved: nothing of it leaves
    for name in (*LOGS, RUN_FILE):
        f = workdir / name
        if f.is_file() and not f.is_symlink():
            entries.append(Entry(name, FileKind.FILE, f.stat().st_size))
    if flood:
        entries.insert(0, Entry("out/", FileKind.DIRECTORY, 0))
    return entries, flood


def hold(s: Session, settings: Settings, job: JobRow) -> OutputRequestRow | None:
    """Quarantine and check what the finished job wrote; idempotent (one request per job).

    Whatever goes wrong while reading the files, the request is still made (with one unreleasable entry
    saying so): the custodian always learns that the job ran."""
    datasets = sensitive_datasets(s, job)
    if not datasets:
        return None
    existing = s.execute(select(OutputRequestRow).where(OutputRequestRow.job_id == job.id)).scalar_one_or_none()
    if existing is not None:
        return existing
    try:
        with s.begin_nested():
            return _hold(s, settings, job, datasets)
    except Exception as exc:
        log.exception("holding the outputs of job %s failed; holding them as one unreleasable entry", job.id)
        req = _request(s, settings, job, datasets)
        result = CheckResult()
        result.add(CheckStatus.FAIL, f"holding the job's outputs failed ({type(exc).__name__}); nothing of them "
                                     "can be released: ask the center's operators")
        s.add(OutputFileRow(request_id=req.id, path="out/", kind=FileKind.DIRECTORY.value, size=0, sha256=None,
                            check_status=result.status.value, check_reasons=result.reasons, comment=""))
        s.flush()
        _audit_hold(s, req, job, datasets, 1, failed=type(exc).__name__)
        return req


def _request(s: Session, settings: Settings, job: JobRow, datasets: list[DatasetRow]) -> OutputRequestRow:
    now = utcnow()
    req = OutputRequestRow(job_id=job.id, project_id=job.project_id,
                           custodian_ids=sorted({d.organization_id for d in datasets}),
                           dataset_ids=[d.id for d in datasets], state=OutputState.CHECKED.value, created_at=now,
                           retain_until=now + dt.timedelta(days=settings.output_retention_days))
    s.add(req)
    s.flush()
    return req


def _hold(s: Session, settings: Settings, job: JobRow, datasets: list[DatasetRow]) -> OutputRequestRow:
    workdir = settings.jobs_dir / str(job.id)
    if workdir.is_dir() and not workdir.is_symlink():
        _write_run_file(workdir, job)
    entries, flood = _entries(workdir)
    rules = _rules(settings)
    facts = []
    shown: dict[str, str] = {}
    for e in entries:
        path, bad = _name_error(e.path)
        shown[e.path] = path
        readable = e.kind is FileKind.FILE and not bad
        content = read_limited(workdir / e.path, rules.max_file_bytes) if readable else None
        facts.append(FileFacts(e.path, e.kind, e.size, content, bad))
    results = check_request(facts, rules, _knowledge(settings, datasets))
    if flood:
        results["out/"].add(CheckStatus.FAIL, f"the job wrote more than {MAX_HELD_FILES} files; none is listed")
    req = _request(s, settings, job, datasets)
    custodian_org = req.custodian_ids[0] if req.custodian_ids else None
    for f in facts:
        r = results[f.path]
        digest = (sha256_of(workdir / f.path)  # a file over the size limit can never be approved: no need to read it
                  if f.kind is FileKind.FILE and f.size <= rules.max_file_bytes and not f.name_error else None)
        row = OutputFileRow(request_id=req.id, path=shown[f.path], kind=f.kind.value, size=f.size, sha256=digest,
                            check_status=r.status.value, check_reasons=r.reasons, comment="")
        s.add(row)
        if f.name_error:
            s.flush()
            audit.record(s, None, "output.unreleasable", "output_file", row.id, organization_id=custodian_org,
                         data={"request": req.id, "job": job.id, "path": row.path, "why": f.name_error})
    s.flush()
    _audit_hold(s, req, job, datasets, len(facts))
    return req


def _audit_hold(s: Session, req: OutputRequestRow, job: JobRow, datasets: list[DatasetRow], files: int,
                failed: str = "") -> None:
    """Filed under the custodian's organization, with a count only: the project's organization admins read
    their organization's events, and a file name is as disclosive as a file."""
    data: dict[str, object] = {"job": job.id, "project": job.project_id, "datasets": [d.name for d in datasets],
                               "files": files}
    if failed:
        data["failed"] = failed
    audit.record(s, None, "output.hold", "output_request", req.id,
                 organization_id=req.custodian_ids[0] if req.custodian_ids else None, data=data)


@dataclass(frozen=True, slots=True)
class Access:
    custodian: bool
    member: bool


def access(s: Session, actor: Principal, req: OutputRequestRow) -> Access:
    project = s.get(ProjectRow, req.project_id)
    member = project is not None and actor.sees_project(project.id, project.organization_id)
    custodian = actor.is_center_admin or any(is_custodian(actor, o) for o in req.custodian_ids)
    return Access(custodian, member)


def get(s: Session, actor: Principal, request_id: int) -> tuple[OutputRequestRow, Access]:
    req = s.get(OutputRequestRow, request_id)
    acc = access(s, actor, req) if req is not None else None
    if req is None or acc is None or not (acc.custodian or acc.member):
        raise NotFound("output request not found")
    return req, acc


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
        a = access(s, actor, req)
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
    req, acc = get(s, actor, request_id)
    if not acc.custodian:
        raise Forbidden("only a custodian of the datasets this job read may decide on its outputs")
    job = s.get(JobRow, req.job_id)
    if job is not None and job.user_id == actor.user_id:
        raise Forbidden("the author of a job cannot review its own outputs")
    f = _file(s, req, file_id)
    decision = decide_file(f.path, f.decision, approve)
    if approve:
        if f.kind != FileKind.FILE.value:
            raise Conflict(f"{f.path} is a {f.kind}, not a regular file: it is never released")
        if f.check_status == "fail" and len(comment.strip()) < 10:
            raise InvalidInput(f"{f.path} failed the automatic checks; approving it needs a comment saying why "
                               "it is safe (at least 10 characters)")
        _unchanged(settings, req, f)
    f.decision = decision.value
    f.decided_by, f.decided_at, f.comment = actor.user_id, utcnow(), comment
    s.flush()
    if all(x.decision is not None for x in files(s, req.id)):
        req.state = move(f"output request {req.id}", OutputState(req.state), Action.DECIDE,
                         OutputState.DECIDED).value
    audit.record(s, actor, f"output.{f.decision}", "output_file", f.id,
                 organization_id=_custodian_org(actor, req),
                 data={"request": req.id, "path": f.path, "sha256": f.sha256, "checks": f.check_status,
                       "comment": comment})
    if job is not None:
        notify_events.decided(s, Event.OUTPUT_DECIDED, [job.user_id], f"output{f.id}",
                              {"path": f.path, "job_id": job.id, "decision": f.decision})
    return f


def read(s: Session, actor: Principal, settings: Settings, request_id: int, file_id: int) -> tuple[str, bytes]:
    """The file's bytes: for custodians (to review) any held file, for the project only approved ones."""
    req, acc = get(s, actor, request_id)
    f = _file(s, req, file_id)
    if not acc.custodian and f.decision != FileDecision.APPROVED:
        raise Forbidden("this file has not been released by the data custodian")
    if f.kind != FileKind.FILE.value:
        raise Conflict(f"{f.path} is a {f.kind}; it has no content to show")
    path = _unchanged(settings, req, f)
    data = read_limited(path, max(f.size, 0))
    if data is None:
        raise Conflict(f"{f.path} could not be read")
    if acc.custodian and f.decision != FileDecision.APPROVED:
        action, org = "output.view", _custodian_org(actor, req)
    else:
        project = s.get(ProjectRow, req.project_id)
        action, org = "output.download", project.organization_id if project else None
    audit.record(s, actor, action, "output_file", f.id, organization_id=org,
                 data={"request": req.id, "path": f.path, "sha256": f.sha256})
    return f.path.rsplit("/", 1)[-1], data


def _custodian_org(actor: Principal, req: OutputRequestRow) -> int | None:
    """The custodian organization the actor acts for (center admins: the first custodian)."""
    mine = [o for o in req.custodian_ids if actor.org_roles.get(o) is not None and is_custodian(actor, o)]
    found = mine or req.custodian_ids
    return found[0] if found else None


def visible_files(s: Session, access: Access, request_id: int) -> tuple[list[OutputFileRow], int]:
    """The files the actor may see listed, and how many are held in all: custodians see every file; the
    project only the approved ones (a name or a size is data too)."""
    rows = files(s, request_id)
    if access.custodian:
        return rows, len(rows)
    return [f for f in rows if f.decision == FileDecision.APPROVED], len(rows)


def run_released(s: Session, job_id: int) -> bool:
    """Whether the custodian released the job's exact outcome (approved its ``run.json``)."""
    req = s.execute(select(OutputRequestRow).where(OutputRequestRow.job_id == job_id)).scalar_one_or_none()
    if req is None:
        return False
    return s.execute(select(OutputFileRow.id).where(
        OutputFileRow.request_id == req.id, OutputFileRow.path == RUN_FILE,
        OutputFileRow.decision == FileDecision.APPROVED)).first() is not None
