"""Review and decision: reviewers score blind to each other; the call manager ranks and decides.

Reviewers are users with the center role ``reviewer``. A reviewer never reviews an
application of an organization they belong to — checked when assigned and again when scoring, then
against their memberships at that moment and every membership period since the assignment (someone who
joined the applicant's organization after being assigned, even briefly, may not score) — may
declare a conflict of interest (the assignment then stops counting and the application drops from their view), and
sees other reviewers' scores only after submitting their own — and then without
names. Applicants see scores only after the decision, and never who gave them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicc.core import programs as rules
from aicc.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from aicc.core.notify import Event
from aicc.core.tenancy import CenterRole
from aicc.services import agreements, audit
from aicc.services import applications as apps
from aicc.services import programs as programs_svc
from aicc.services.notify import events as notify_events
from aicc.services.principal import Principal
from aicc.store.models import (
    ApplicationRow,
    CallRow,
    MembershipPeriodRow,
    MembershipRow,
    ReviewRow,
    UserRow,
    utcnow,
)


def _reviewer_orgs(s: Session, user_id: int) -> set[int]:
    q = select(MembershipRow.organization_id).where(MembershipRow.user_id == user_id)
    return {o for (o,) in s.execute(q).all()}


def member_since(s: Session, user_id: int, org_id: int, since: dt.datetime) -> bool:
    """Is, or was at any time since ``since``, a member of ``org_id``."""
    if s.execute(select(MembershipRow.id).where(MembershipRow.user_id == user_id,
                                                MembershipRow.organization_id == org_id)).first():
        return True
    q = select(MembershipPeriodRow.id).where(
        MembershipPeriodRow.user_id == user_id, MembershipPeriodRow.organization_id == org_id,
        MembershipPeriodRow.ended_at.is_(None) | (MembershipPeriodRow.ended_at >= since))
    return s.execute(q).first() is not None


def _active(s: Session, application_id: int) -> list[ReviewRow]:
    q = select(ReviewRow).where(ReviewRow.application_id == application_id,
                                ReviewRow.state != rules.ReviewState.CONFLICT.value).order_by(ReviewRow.id)
    return list(s.execute(q).scalars())


def _assign(s: Session, actor: Principal, a: ApplicationRow, reviewer: UserRow) -> ReviewRow:
    if reviewer.center_role != CenterRole.REVIEWER.value or reviewer.disabled:
        raise InvalidInput(f"user {reviewer.username!r} is not an active reviewer")
    if a.organization_id in _reviewer_orgs(s, reviewer.id):
        raise InvalidInput(f"{reviewer.username!r} belongs to the applicant's organization and cannot review it")
    if s.execute(select(ReviewRow.id).where(ReviewRow.application_id == a.id,
                                            ReviewRow.reviewer_id == reviewer.id)).first():
        raise Conflict(f"{reviewer.username!r} is already assigned to (or declared a conflict on) this application")
    r = ReviewRow(application_id=a.id, reviewer_id=reviewer.id, state=rules.ReviewState.ASSIGNED.value,
                  scores=None, total=None)
    s.add(r)
    s.flush()
    # organization_id stays None: organization admins read their organization's audit events, and
    # applicants must never learn who reviews them
    audit.record(s, actor, "review.assign", "application", a.id,
                 data={"reviewer": reviewer.username, "review_id": r.id, "applicant_org": a.organization_id})
    return r


def _submitted_application(s: Session, actor: Principal, application_id: int) -> ApplicationRow:
    actor.require_center_admin()
    a = apps.get(s, actor, application_id)
    if a.state != rules.ApplicationState.SUBMITTED.value:
        raise Conflict(f"the application is {a.state}; reviewers are assigned to submitted applications")
    return a


def assign(s: Session, actor: Principal, application_id: int, *, username: str) -> ReviewRow:
    a = _submitted_application(s, actor, application_id)
    reviewer = s.execute(select(UserRow).where(UserRow.username == username)).scalar_one_or_none()
    if reviewer is None:
        raise NotFound(f"user {username!r} not found")
    return _assign(s, actor, a, reviewer)


def assign_round_robin(s: Session, actor: Principal, call_id: int) -> list[ReviewRow]:
    """Top up every submitted application of the call to the call's reviewers per application.

    The reviewer with the fewest assignments in this call goes first (then by id), so
    load spreads evenly; reviewers of the applicant's organization and those already
    on the application (or with a declared conflict on it) are skipped.
    """
    actor.require_center_admin()
    call = programs_svc.get_call(s, actor, call_id)
    reviewers = list(s.execute(select(UserRow).where(UserRow.center_role == CenterRole.REVIEWER.value,
                                                     UserRow.disabled.is_(False)).order_by(UserRow.id)).scalars())
    load = dict.fromkeys((r.id for r in reviewers), 0)
    counted = (select(ReviewRow.reviewer_id, func.count()).join(ApplicationRow,
               ApplicationRow.id == ReviewRow.application_id)
               .where(ApplicationRow.call_id == call.id, ReviewRow.state != rules.ReviewState.CONFLICT.value)
               .group_by(ReviewRow.reviewer_id))
    for rid, n in s.execute(counted).all():
        if rid in load:
            load[rid] = int(n)
    orgs = {r.id: _reviewer_orgs(s, r.id) for r in reviewers}
    made: list[ReviewRow] = []
    q = select(ApplicationRow).where(ApplicationRow.call_id == call.id,
                                     ApplicationRow.state == rules.ApplicationState.SUBMITTED.value
                                     ).order_by(ApplicationRow.id)
    for a in s.execute(q).scalars():
        taken = {rid for (rid,) in s.execute(select(ReviewRow.reviewer_id).where(
            ReviewRow.application_id == a.id)).all()}
        need = call.reviewers_per_application - len(_active(s, a.id))
        candidates = sorted((r for r in reviewers if r.id not in taken and a.organization_id not in orgs[r.id]),
                            key=lambda r: (load[r.id], r.id))
        if len(candidates) < need:  # nothing is assigned (one transaction): say what is missing instead
            raise InvalidInput(
                f"application {a.id} needs {need} more reviewer(s) but only {len(candidates)} can review it: "
                f"{len(reviewers)} active user(s) have the center role reviewer, and none may be from the "
                "applicant's organization or already on it (aicc admin users create NAME --center-role reviewer)")
        for r in candidates[:max(need, 0)]:
            made.append(_assign(s, actor, a, r))
            load[r.id] += 1
    return made


def my_reviews(s: Session, actor: Principal) -> list[ReviewRow]:
    if not actor.is_reviewer:
        raise Forbidden("only reviewers have review assignments")
    q = select(ReviewRow).where(ReviewRow.reviewer_id == actor.user_id).order_by(ReviewRow.id)
    return list(s.execute(q).scalars())


def _mine(s: Session, actor: Principal, review_id: int) -> ReviewRow:
    r = s.get(ReviewRow, review_id)
    if r is None or r.reviewer_id != actor.user_id:
        raise NotFound("review not found")
    return r


def declare_conflict(s: Session, actor: Principal, review_id: int, *, reason: str) -> ReviewRow:
    r = _mine(s, actor, review_id)
    if r.state != rules.ReviewState.ASSIGNED.value:
        raise Conflict(f"the review is {r.state}; a conflict is declared before scoring")
    if not reason.strip():
        raise InvalidInput("say what the conflict of interest is")
    r.state = rules.ReviewState.CONFLICT.value
    r.conflict_reason = reason
    s.flush()
    audit.record(s, actor, "review.conflict", "application", r.application_id,
                 data={"review_id": r.id, "reason": reason})
    return r


def submit_scores(s: Session, actor: Principal, review_id: int, *, scores: Mapping[str, float],
                  comment: str) -> ReviewRow:
    r = _mine(s, actor, review_id)
    if r.state != rules.ReviewState.ASSIGNED.value:
        raise Conflict(f"the review is {r.state}; scores are submitted once")
    a = s.get(ApplicationRow, r.application_id)
    assert a is not None
    if a.state != rules.ApplicationState.SUBMITTED.value:
        raise Conflict(f"the application is {a.state}; it is no longer under review")
    if member_since(s, r.reviewer_id, a.organization_id, r.assigned_at):
        raise Conflict("you are, or have been since your assignment, a member of the applicant's organization: "
                       "declare the conflict of interest instead of scoring")
    call = s.get(CallRow, a.call_id)
    assert call is not None
    r.total = rules.weighted_score(programs_svc.rubric(call), scores)
    r.scores = dict(scores)
    r.comment = comment
    r.state = rules.ReviewState.SUBMITTED.value
    r.submitted_at = utcnow()
    s.flush()
    audit.record(s, actor, "review.submit", "application", a.id, data={"review_id": r.id, "total": r.total})
    counted = [x.state for x in s.execute(select(ReviewRow).where(ReviewRow.application_id == a.id)).scalars()
               if x.state != rules.ReviewState.CONFLICT.value]
    done = sum(1 for st in counted if st == rules.ReviewState.SUBMITTED.value)
    # the applicant learns how far the review is, never who scored or what (reviews stay anonymous)
    notify_events.decided(s, Event.APPLICATION_REVIEWED, notify_events.org_admins(s, a.organization_id),
                          f"application{a.id}-review{done}",
                          {"application": a.title, "call": call.name,
                           "step": f"{done} of {len(counted)} reviews are in"})
    return r


@dataclass(frozen=True, slots=True)
class ReviewOut:
    id: int
    label: str
    """"reviewer 1", "reviewer 2"… in assignment order: stable, and says nothing about who."""
    reviewer: str | None
    """The username, for center admins and for the reviewer's own review only."""
    state: str
    scores: dict[str, Any] | None
    total: float | None
    comment: str
    conflict_reason: str | None


def reviews_of(s: Session, actor: Principal, application_id: int) -> list[ReviewOut]:
    a = apps.get(s, actor, application_id)
    rows = list(s.execute(select(ReviewRow).where(ReviewRow.application_id == a.id).order_by(ReviewRow.id)).scalars())
    names = {u.id: u.username for u in s.execute(select(UserRow).where(
        UserRow.id.in_([r.reviewer_id for r in rows]))).scalars()}
    labels = {r.id: f"reviewer {i}" for i, r in enumerate(rows, 1)}
    decided = a.state in (rules.ApplicationState.AWARDED.value, rules.ApplicationState.PARTIALLY_AWARDED.value,
                          rules.ApplicationState.REJECTED.value)
    own = next((r for r in rows if r.reviewer_id == actor.user_id), None)
    if actor.is_center_admin:
        shown = rows
    elif own is not None:
        # blind until one's own scores are in; then the others' submitted scores, without names
        shown = [own] + ([r for r in rows if r is not own and r.state == rules.ReviewState.SUBMITTED.value]
                         if own.state == rules.ReviewState.SUBMITTED.value else [])
    elif apps.is_applicant(actor, a) and decided:
        shown = [r for r in rows if r.state == rules.ReviewState.SUBMITTED.value]
    else:
        shown = []
    out = []
    for r in shown:
        named = actor.is_center_admin or r.reviewer_id == actor.user_id
        out.append(ReviewOut(r.id, labels[r.id], names.get(r.reviewer_id) if named else None, r.state, r.scores,
                             r.total, r.comment, r.conflict_reason if named else None))
    return out


@dataclass(frozen=True, slots=True)
class RankRow:
    rank: int
    application: ApplicationRow
    organization_id: int
    mean: float | None
    spread: float | None
    stdev: float | None
    reviews: int
    assigned: int


def ranking(s: Session, actor: Principal, call_id: int) -> list[RankRow]:
    actor.require_center_admin()
    call = programs_svc.get_call(s, actor, call_id)
    q = select(ApplicationRow).where(ApplicationRow.call_id == call.id,
                                     ApplicationRow.state != rules.ApplicationState.DRAFT.value,
                                     ApplicationRow.state != rules.ApplicationState.WITHDRAWN.value)
    rows = list(s.execute(q).scalars())
    by_id = {a.id: a for a in rows}
    stats: dict[int, tuple[rules.Aggregate, int]] = {}
    candidates = []
    for a in rows:
        active = _active(s, a.id)
        agg = rules.aggregate([r.total for r in active if r.total is not None
                               and r.state == rules.ReviewState.SUBMITTED.value])
        stats[a.id] = (agg, len(active))
        candidates.append(rules.Candidate(a.id, agg.mean, agg.reviews, a.requested_su,
                                          a.submitted_at or a.created_at))
    out = []
    for i, c in enumerate(rules.rank(candidates), 1):
        agg, assigned = stats[c.application_id]
        a = by_id[c.application_id]
        out.append(RankRow(i, a, a.organization_id, agg.mean, agg.spread, agg.stdev, agg.reviews, assigned))
    return out


def decide(s: Session, actor: Principal, application_id: int, *, decision: rules.Decision, reason: str,
           awarded_su: Mapping[str, float] | None = None, awarded_storage_gib: int | None = None,
           now: dt.datetime | None = None) -> ApplicationRow:
    """Award, partially award or reject; an award offers an agreement at once. The reason is shown to the applicant.
    Storage asked for is given in full by an award, up to the request by a partial one, never by a rejection."""
    actor.require_center_admin()
    now = now or utcnow()
    a = apps.get(s, actor, application_id)
    if not reason.strip():
        raise InvalidInput("every decision carries a reason the applicant will read")
    state = rules.application_transition(rules.ApplicationState(a.state), "decide", rules.decision_state(decision))
    call = programs_svc.get_call(s, actor, a.call_id)
    if now < call.closes_at:
        raise Conflict(f"the call closes at {call.closes_at.isoformat()}; decisions come after the close date")
    give: dict[str, float] = {}
    storage = 0
    if decision is rules.Decision.AWARD:
        if awarded_su is not None or awarded_storage_gib is not None:
            raise InvalidInput("a full award gives what was requested; use decision 'partial' to give less")
        give = dict(a.requested_su)
        storage = a.requested_storage_gib
    elif decision is rules.Decision.PARTIAL:
        if awarded_su is None:
            raise InvalidInput("a partial award names awarded_su per flavor")
        rules.check_partial(awarded_su, a.requested_su)
        give = {f: float(v) for f, v in awarded_su.items()}
        storage = a.requested_storage_gib if awarded_storage_gib is None else awarded_storage_gib
        if not 0 <= storage <= a.requested_storage_gib:
            raise InvalidInput(f"a partial award gives at most the {a.requested_storage_gib} GiB of storage requested")
    elif awarded_su is not None or awarded_storage_gib is not None:
        raise InvalidInput("a rejection awards nothing")
    if give:
        programs_svc.lock_program(s, call.program_id)
        left = programs_svc.call_remaining(s, call)
        if not rules.fits(give, left):
            raise Conflict(f"the call's remaining budget ({left}) cannot cover {give}")
    a.state = state.value
    a.decision_reason = reason
    a.decided_at = now
    s.flush()
    audit.record(s, actor, "application.decide", "application", a.id, organization_id=a.organization_id,
                 data={"decision": decision.value, "reason": reason, "awarded_su": give,
                       "awarded_storage_gib": storage})
    notify_events.decided(s, Event.APPLICATION_DECIDED, notify_events.org_admins(s, a.organization_id),
                          f"application{a.id}", {"application": a.title, "call": call.name, "decision": state.value})
    if give:
        agreements.offer(s, actor, a, call, give, storage_gib=storage)
    return a


def auto_award(s: Session, actor: Principal, call_id: int, *, now: dt.datetime | None = None) -> list[ApplicationRow]:
    """Award in full, best first, every application at or above the call's threshold while the budget lasts.

    Only applications with all their reviews in are considered, and those left below the
    threshold stay undecided for the manager.
    """
    actor.require_center_admin()
    call = programs_svc.get_call(s, actor, call_id)
    if call.auto_award_threshold is None:
        raise Conflict("this call has no auto-award threshold; decide by hand")
    ranked = [rules.Candidate(r.application.id, r.mean, r.reviews, r.application.requested_su,
                              r.application.submitted_at or r.application.created_at)
              for r in ranking(s, actor, call.id) if r.application.state == rules.ApplicationState.SUBMITTED.value]
    left = programs_svc.call_remaining(s, call)
    chosen = rules.auto_awards(ranked, threshold=call.auto_award_threshold, remaining=left,
                               min_reviews=call.reviewers_per_application)
    return [decide(s, actor, i, decision=rules.Decision.AWARD, now=now,
                   reason=f"auto-award: mean score at or above {call.auto_award_threshold:g} within the call's budget")
            for i in chosen]
