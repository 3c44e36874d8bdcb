"""Where notifications come from: small functions the controller and the services call in their own
transaction. Each finds the recipients and queues; none sends, so none slows the command down."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.core.jobs import JobState
from aicc.core.notify import Event
from aicc.core.tenancy import OrgRole
from aicc.services.notify.outbox import Notice, queue
from aicc.store.models import (
    AllocationRow,
    JobNotifyRow,
    JobRow,
    MembershipRow,
    ProjectMemberRow,
    ProjectRow,
    UsageRow,
    utcnow,
)

PROJECTION_DAYS = 7
"""Warn when, at the last week's pace, the budget runs out sooner than this."""
FAILED = {JobState.FAILED.value, JobState.TIMED_OUT.value}
ENDED = {JobState.SUCCEEDED.value, JobState.FAILED.value, JobState.TIMED_OUT.value, JobState.CANCELLED.value}
NOTIFY_WORDS = ("end", "fail")
"""As ``sbatch --mail-type``: END is any ending, FAIL only failures and time-outs."""


def parse_notify(words: Sequence[str]) -> str:
    """``["end", "fail"]`` -> "end,fail"; an unknown word is the caller's InvalidInput."""
    from aicc.core.errors import InvalidInput

    chosen = sorted({w.strip().lower() for w in words if w.strip()})
    bad = [w for w in chosen if w not in NOTIFY_WORDS]
    if bad:
        raise InvalidInput(f"notify takes {', '.join(NOTIFY_WORDS)}; not {', '.join(bad)}")
    return ",".join(chosen)


def opt_in(s: Session, job_ids: Iterable[int], user_id: int, words: str) -> None:
    """Record ``aicc submit --notify`` for the jobs just submitted (same transaction as the submit)."""
    if words:
        s.add_all([JobNotifyRow(job_id=j, user_id=user_id, events=words) for j in job_ids])


def jobs_ended(s: Session, jobs: Sequence[JobRow], *, base_url: str = "") -> int:
    """Queue the endings of ``jobs`` their submitters opted in to; one query when none did."""
    ended = {j.id: j for j in jobs if j.state in ENDED}
    if not ended:
        return 0
    opted = list(s.execute(select(JobNotifyRow).where(JobNotifyRow.job_id.in_(list(ended)))).scalars())
    if not opted:
        return 0
    projects = {p.id: p.name for p in s.execute(select(ProjectRow).where(
        ProjectRow.id.in_({ended[o.job_id].project_id for o in opted}))).scalars()}
    notices = []
    for o in opted:
        job = ended[o.job_id]
        words = set(o.events.split(","))
        failed = job.state in FAILED
        if "end" in words or (failed and "fail" in words):
            notices.append(Notice(Event.JOB_FAILED if failed else Event.JOB_ENDED, o.user_id, f"job{job.id}",
                                  {"job_id": job.id, "name": job.name, "state": job.state,
                                   "project": projects.get(job.project_id, ""), "reason": job.reason}))
    return queue(s, notices, base_url=base_url)


def _project_people(s: Session, project_id: int) -> set[int]:
    """Members of the project and admins of its organization: those who act on its budget."""
    people = set(s.execute(select(ProjectMemberRow.user_id).where(ProjectMemberRow.project_id == project_id))
                 .scalars())
    org = s.execute(select(ProjectRow.organization_id).where(ProjectRow.id == project_id)).scalar()
    people |= set(s.execute(select(MembershipRow.user_id).where(
        MembershipRow.organization_id == org, MembershipRow.role == OrgRole.ORG_ADMIN.value)).scalars())
    return people


def budget_thresholds(s: Session, allocation_ids: Iterable[int], *, base_url: str = "",
                      now: dt.datetime | None = None) -> int:
    """Queue 80 % and 100 % of a budget once each (the dedup key holds the allocation and the threshold), and,
    once a week at most, that at the last week's pace the budget runs out within a week."""
    from sqlalchemy import func

    from aicc.services.metering import BURN_WINDOW

    ids = sorted(set(allocation_ids))
    if not ids:
        return 0
    now = now or utcnow()
    used = dict(s.execute(select(UsageRow.allocation_id, func.sum(UsageRow.su))
                          .where(UsageRow.allocation_id.in_(ids)).group_by(UsageRow.allocation_id)).all())
    recent = dict(s.execute(select(UsageRow.allocation_id, func.sum(UsageRow.su))
                            .where(UsageRow.allocation_id.in_(ids), UsageRow.ended_at > now - BURN_WINDOW)
                            .group_by(UsageRow.allocation_id)).all())
    notices = []
    for a in s.execute(select(AllocationRow).where(AllocationRow.id.in_(ids))).scalars():
        spent = float(used.get(a.id) or 0.0)
        per_day = float(recent.get(a.id) or 0.0) / BURN_WINDOW.total_seconds() * 86400
        left = a.budget_su - spent
        if a.budget_su > 0 and left > 0 and per_day > 0 and left / per_day < PROJECTION_DAYS:
            project = s.get(ProjectRow, a.project_id)
            week = now.isocalendar()
            params_p: dict[str, object] = {"allocation": a.name, "project": project.name if project else "",
                                           "days": max(1, round(left / per_day))}
            notices += [Notice(Event.BUDGET_PROJECTED, u, f"alloc{a.id}-w{week.year}-{week.week}", params_p)
                        for u in _project_people(s, a.project_id)]
        if a.budget_su <= 0 or spent < 0.8 * a.budget_su:
            continue
        event = Event.BUDGET_100 if spent >= a.budget_su else Event.BUDGET_80
        project = s.get(ProjectRow, a.project_id)
        params = {"allocation": a.name, "project": project.name if project else "", "used": round(spent, 1),
                  "budget": round(a.budget_su, 1), "percent": int(100 * spent / a.budget_su)}
        notices += [Notice(event, u, f"alloc{a.id}", params) for u in _project_people(s, a.project_id)]
    return queue(s, notices, base_url=base_url)


def decided(s: Session, event: Event, user_ids: Iterable[int], key: str, params: dict[str, object]) -> int:
    """A decision someone waits for (a grant, an output file, an application): tell them."""
    return queue(s, [Notice(event, u, key, params) for u in set(user_ids)])


def org_admins(s: Session, org_id: int) -> list[int]:
    return list(s.execute(select(MembershipRow.user_id).where(
        MembershipRow.organization_id == org_id, MembershipRow.role == OrgRole.ORG_ADMIN.value)).scalars())


def session_cull_soon(s: Session, user_id: int, job_id: int, at: str, key: str) -> int:
    """The session's owner, before an idle session is stopped (once per stretch of idleness: ``key``)."""
    return queue(s, [Notice(Event.SESSION_CULL, user_id, key,
                            {"job_id": job_id, "at": at, "why": "no activity"})])


def service_unhealthy(s: Session, project_id: int, key: str, params: dict[str, object]) -> int:
    """The project's people, when a replica fails its checks or the service fails: they run it."""
    return queue(s, [Notice(Event.SERVICE_UNHEALTHY, u, key, params) for u in _project_people(s, project_id)])
