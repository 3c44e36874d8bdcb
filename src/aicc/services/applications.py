"""Applications (과제): an organization asks a call for SU for one of its projects.

Who sees an application: center admins; the applicant organization's admins and the
project's members; reviewers only while assigned and without a declared conflict.
Everyone else gets *not found*, so applicants cannot learn who else applied.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.core import programs as rules
from aicc.core.errors import Conflict, InvalidInput, NotFound, StaleVersion
from aicc.services import audit
from aicc.services import programs as programs_svc
from aicc.services import projects as projects_svc
from aicc.services.paging import Page, page
from aicc.services.principal import Principal
from aicc.store.models import (
    ApplicationRow,
    AttachmentRow,
    CallRow,
    OrganizationRow,
    ProgramRow,
    ReviewRow,
    utcnow,
)

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
"""Per file; the API's request body limit (AICC_MAX_BODY_BYTES) may be lower and then wins."""
MAX_ATTACHMENTS = 20
ATTACHMENT_TYPES: Mapping[str, str] = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "text/csv": ".csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/x-hwp": ".hwp",
}
"""What a proposal may attach; the stored file's extension comes from here, never from the request."""
_MAGIC: Mapping[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK\x03\x04",),
}
"""Leading bytes a binary type must start with, so a renamed executable is not accepted as a PDF."""


def _assigned(actor: Principal) -> Any:
    return select(ReviewRow.application_id).where(
        ReviewRow.reviewer_id == actor.user_id, ReviewRow.state != rules.ReviewState.CONFLICT.value)


def visible(actor: Principal) -> Any:
    """SQL condition for the applications ``actor`` may read."""
    if actor.is_center_admin:
        return True
    admin_of = [o for o in actor.org_roles if actor.is_org_admin(o)]
    cond = ApplicationRow.organization_id.in_(admin_of) | ApplicationRow.project_id.in_(list(actor.projects))
    if actor.is_reviewer:
        cond = cond | ApplicationRow.id.in_(_assigned(actor))
    return cond


def get(s: Session, actor: Principal, application_id: int) -> ApplicationRow:
    a = s.execute(select(ApplicationRow).where(ApplicationRow.id == application_id, visible(actor))
                  ).scalar_one_or_none()
    if a is None:
        raise NotFound("application not found")
    return a


def titles(s: Session, actor: Principal, ids: Iterable[int]) -> dict[int, str]:
    """Titles of the applications among ``ids`` the actor may see (one query; the others are left out)."""
    wanted = set(ids)
    if not wanted:
        return {}
    return dict(s.execute(select(ApplicationRow.id, ApplicationRow.title)
                          .where(ApplicationRow.id.in_(wanted), visible(actor))).all())


def is_applicant(actor: Principal, a: ApplicationRow) -> bool:
    return a.organization_id in actor.org_roles or a.project_id in actor.projects


def list_applications(s: Session, actor: Principal, *, after: int | None, limit: int, call_id: int | None = None,
                      state: rules.ApplicationState | None = None) -> Page[ApplicationRow]:
    q = select(ApplicationRow).where(visible(actor))
    if call_id is not None:
        q = q.where(ApplicationRow.call_id == call_id)
    if state is not None:
        q = q.where(ApplicationRow.state == state.value)
    return page(s, q, ApplicationRow.id, after, limit)


def _program(s: Session, call: CallRow) -> ProgramRow:
    p = s.get(ProgramRow, call.program_id)
    assert p is not None
    return p


def _check_terms(s: Session, call: CallRow, *, track: str, requested_su: Mapping[str, float],
                 requested_accelerators: Mapping[str, int], starts_at: dt.datetime, ends_at: dt.datetime,
                 requested_storage_gib: int = 0) -> None:
    if track not in call.tracks:
        raise InvalidInput(f"track {track!r} is not one of this call's tracks ({', '.join(call.tracks)})")
    flavors = list(_program(s, call).budget_su)
    rules.check_request(requested_su, cap_su=call.cap_su, flavors=flavors)
    unknown = sorted(set(requested_accelerators) - set(flavors))
    if unknown:
        raise InvalidInput(f"the program funds {', '.join(sorted(flavors))}; not {', '.join(unknown)}")
    if any(n < 0 for n in requested_accelerators.values()):
        raise InvalidInput("requested accelerators must not be negative")
    if ends_at <= starts_at:
        raise InvalidInput("the period's end must be after its start")
    if requested_storage_gib < 0:
        raise InvalidInput("requested storage must not be negative")


def create(
    s: Session,
    actor: Principal,
    *,
    call_id: int,
    project_id: int,
    track: rules.Track,
    title: str,
    plan: str,
    expected_outcomes: str,
    team: Sequence[Mapping[str, str]],
    requested_su: Mapping[str, float],
    requested_accelerators: Mapping[str, int],
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    youth: bool = False,
    requested_storage_gib: int = 0,
    now: dt.datetime | None = None,
) -> ApplicationRow:
    """A draft; nothing is checked against the call's eligibility until it is submitted."""
    call = programs_svc.get_call(s, actor, call_id)
    project = projects_svc.get(s, actor, project_id)
    actor.require_org_admin(project.organization_id, "project")
    rules.check_window(opens_at=call.opens_at, closes_at=call.closes_at, now=now or utcnow(), action="apply")
    _check_terms(s, call, track=track.value, requested_su=requested_su,
                 requested_accelerators=requested_accelerators, starts_at=starts_at, ends_at=ends_at,
                 requested_storage_gib=requested_storage_gib)
    a = ApplicationRow(
        call_id=call.id, project_id=project.id, organization_id=project.organization_id, track=track.value,
        title=title, plan=plan, expected_outcomes=expected_outcomes, team=[dict(m) for m in team],
        requested_su=dict(requested_su), requested_accelerators=dict(requested_accelerators), starts_at=starts_at,
        ends_at=ends_at, youth=youth, state=rules.ApplicationState.DRAFT.value,
        requested_storage_gib=requested_storage_gib,
    )
    s.add(a)
    s.flush()
    audit.record(s, actor, "application.create", "application", a.id, organization_id=a.organization_id,
                 data={"call": call.name, "project": project.name, "requested_su": dict(requested_su),
                       "requested_storage_gib": requested_storage_gib})
    return a


EDITABLE = frozenset({"track", "title", "plan", "expected_outcomes", "team", "requested_su",
                      "requested_accelerators", "requested_storage_gib", "starts_at", "ends_at", "youth"})


def update(s: Session, actor: Principal, application_id: int, *, version: int, changes: dict[str, Any],
           now: dt.datetime | None = None) -> ApplicationRow:
    """Edit a draft (or a withdrawn application, which becomes a draft again); submitted ones are frozen."""
    a = get(s, actor, application_id)
    actor.require_org_admin(a.organization_id, "application")
    if a.version != version:
        raise StaleVersion(f"application changed since version {version} (now {a.version}); reload and retry")
    state = rules.application_transition(rules.ApplicationState(a.state), "edit", rules.ApplicationState.DRAFT)
    bad = sorted(set(changes) - EDITABLE)
    if bad:
        raise InvalidInput(f"cannot change {', '.join(bad)}")
    call = programs_svc.get_call(s, actor, a.call_id)
    rules.check_window(opens_at=call.opens_at, closes_at=call.closes_at, now=now or utcnow(), action="edit")
    merged = {k: getattr(a, k) for k in EDITABLE} | changes
    _check_terms(s, call, track=str(merged["track"]), requested_su=merged["requested_su"],
                 requested_accelerators=merged["requested_accelerators"], starts_at=merged["starts_at"],
                 ends_at=merged["ends_at"], requested_storage_gib=int(merged["requested_storage_gib"] or 0))
    for key, value in changes.items():
        setattr(a, key, value.value if isinstance(value, rules.Track) else value)
    if a.state == rules.ApplicationState.WITHDRAWN.value and changes:
        _reopen_reviews(s, a)
    a.state = state.value
    s.flush()
    audit.record(s, actor, "application.update", "application", a.id, organization_id=a.organization_id,
                 data=changes)
    return a


def _reopen_reviews(s: Session, a: ApplicationRow) -> None:
    """A withdrawn application that is edited is a different application: scores given to the old text are void."""
    for r in s.execute(select(ReviewRow).where(ReviewRow.application_id == a.id,
                                               ReviewRow.state == rules.ReviewState.SUBMITTED.value)).scalars():
        r.state = rules.ReviewState.ASSIGNED.value
        r.scores = None
        r.total = None
        r.submitted_at = None


def submit(s: Session, actor: Principal, application_id: int, *, now: dt.datetime | None = None) -> ApplicationRow:
    """Freeze the application; eligibility and the cap are checked here, with a reason the applicant can act on."""
    now = now or utcnow()
    a = get(s, actor, application_id)
    actor.require_org_admin(a.organization_id, "application")
    state = rules.application_transition(rules.ApplicationState(a.state), "submit", rules.ApplicationState.SUBMITTED)
    call = programs_svc.get_call(s, actor, a.call_id)
    rules.check_window(opens_at=call.opens_at, closes_at=call.closes_at, now=now, action="submit")
    org = s.get(OrganizationRow, a.organization_id)
    assert org is not None
    problem = rules.eligibility_problem(programs_svc.eligibility(call), org_kind=org.kind, region=org.region)
    if problem:
        raise InvalidInput(f"not eligible: {problem}")
    _check_terms(s, call, track=a.track, requested_su=a.requested_su, requested_accelerators=a.requested_accelerators,
                 starts_at=a.starts_at, ends_at=a.ends_at)
    a.state = state.value
    a.submitted_at = now
    s.flush()
    audit.record(s, actor, "application.submit", "application", a.id, organization_id=a.organization_id,
                 data={"requested_su": a.requested_su})
    return a


def withdraw(s: Session, actor: Principal, application_id: int, *, now: dt.datetime | None = None) -> ApplicationRow:
    a = get(s, actor, application_id)
    actor.require_org_admin(a.organization_id, "application")
    state = rules.application_transition(rules.ApplicationState(a.state), "withdraw", rules.ApplicationState.WITHDRAWN)
    call = programs_svc.get_call(s, actor, a.call_id)
    rules.check_window(opens_at=call.opens_at, closes_at=call.closes_at, now=now or utcnow(), action="withdraw")
    a.state = state.value
    s.flush()
    audit.record(s, actor, "application.withdraw", "application", a.id, organization_id=a.organization_id)
    return a


# -- attachments -------------------------------------------------------------------------------------

def attachments_dir(home: Path) -> Path:
    return home / "attachments"


def add_attachment(s: Session, actor: Principal, application_id: int, *, home: Path, filename: str,
                   content_type: str, data: bytes) -> AttachmentRow:
    """Store a file under a generated name in ``home/attachments``; the request's name is only displayed.

    The file is written before the transaction commits; if the commit then fails, an
    unreferenced file remains, which is harmless (nothing serves files by directory listing).
    """
    a = get(s, actor, application_id)
    actor.require_org_admin(a.organization_id, "application")
    if a.state not in (rules.ApplicationState.DRAFT.value, rules.ApplicationState.WITHDRAWN.value):
        raise Conflict(f"the application is {a.state}; attachments can change only in a draft")
    media = content_type.split(";")[0].strip().lower()
    if media not in ATTACHMENT_TYPES:
        raise InvalidInput(f"attachments may be {', '.join(sorted(ATTACHMENT_TYPES))}; not {media or 'untyped'}")
    if not data:
        raise InvalidInput("the attachment is empty")
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise InvalidInput(f"attachments are limited to {MAX_ATTACHMENT_BYTES} bytes")
    magic = _MAGIC.get(media)
    if magic and not data.startswith(magic):
        raise InvalidInput(f"the file's content is not {media}")
    count = len(list(s.execute(select(AttachmentRow.id).where(AttachmentRow.application_id == a.id)).all()))
    if count >= MAX_ATTACHMENTS:
        raise InvalidInput(f"an application may have at most {MAX_ATTACHMENTS} attachments")
    shown = "".join(ch for ch in filename if ch.isprintable() and ch not in "/\\").strip()[:200] or "attachment"
    stored = secrets.token_hex(16) + ATTACHMENT_TYPES[media]
    folder = attachments_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / stored).write_bytes(data)
    row = AttachmentRow(application_id=a.id, filename=shown, stored_name=stored, content_type=media, size=len(data),
                        sha256=hashlib.sha256(data).hexdigest())
    s.add(row)
    s.flush()
    audit.record(s, actor, "application.attachment.add", "application", a.id, organization_id=a.organization_id,
                 data={"filename": shown, "size": len(data), "sha256": row.sha256})
    return row


def list_attachments(s: Session, actor: Principal, application_id: int) -> list[AttachmentRow]:
    a = get(s, actor, application_id)
    q = select(AttachmentRow).where(AttachmentRow.application_id == a.id).order_by(AttachmentRow.id)
    return list(s.execute(q).scalars())


def read_attachment(s: Session, actor: Principal, application_id: int, attachment_id: int,
                    home: Path) -> tuple[AttachmentRow, bytes]:
    a = get(s, actor, application_id)
    row = s.get(AttachmentRow, attachment_id)
    if row is None or row.application_id != a.id:
        raise NotFound("attachment not found")
    return row, (attachments_dir(home) / row.stored_name).read_bytes()
