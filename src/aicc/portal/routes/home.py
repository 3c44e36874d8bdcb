"""The dashboard (my jobs, my projects' budgets) and project pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from fastapi import APIRouter
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from aicc.portal import charts
from aicc.portal.routing import Member, PortalRoute
from aicc.portal.view import View
from aicc.services import job_search, metering, organizations, projects, utilization, workspaces
from aicc.services.metering import UsageSummary
from aicc.services.principal import Principal
from aicc.store.models import utcnow

router = APIRouter(route_class=PortalRoute)


def budget_charts(view: View, s: Session, summaries: Sequence[UsageSummary], now: dt.datetime
                  ) -> dict[int, Markup]:
    """A burn-down per allocation: remaining SU by day, dotted on to the projected exhaustion."""
    _, f = view._, view.f
    series = utilization.burndown(s, summaries, now)
    out = {}
    for u in summaries:
        points = series.get(u.allocation_id, [])
        projection: list[tuple[dt.datetime, float]] = []
        if u.burn_su_per_day > 0 and u.remaining_su > 0 and u.ends_at > now:
            end = min(u.projected_exhaustion or u.ends_at, u.ends_at)
            left = u.remaining_su - u.burn_su_per_day * (end - now).total_seconds() / 86400
            projection = [(now, u.remaining_su), (end, max(left, 0.0))]
        if u.projected_exhaustion:
            desc = _("At the last week's rate the budget runs out on {date}.", date=f.date(u.projected_exhaustion))
        else:
            desc = _("No use in the last week: no projected exhaustion.")
        out[u.allocation_id] = charts.line_chart(
            {_("Remaining SU"): points}, projections={_("Remaining SU"): projection},
            title=_("Burn-down of {name}", name=u.allocation), description=desc, fmt_x=f.day,
            fmt_y=lambda v: f.num(v, 0), y_ceiling=u.budget_su, chart_id=f"burn-{u.allocation_id}",
            width=440, height=230, marker=(now, _("today")))
    return out


@router.get("/")
def dashboard(view: Member) -> Response:
    p = view.principal
    now = utcnow()
    with view.db.read() as s:
        counts = job_search.state_counts(s, p, mine=True)
        recent = job_search.search(s, p, mine=True, per_page=8)
        summaries = [u for u in metering.summaries(s, p, now=now) if u.project_id in p.projects]
        burn = budget_charts(view, s, summaries, now)
        my_orgs, waiting = _memberships(s, p)
        return view.render("dashboard.html", counts=counts, recent=recent, summaries=summaries, burn=burn, now=now,
                           my_orgs=my_orgs, waiting=waiting)


def _memberships(s: Session, p: Principal) -> tuple[list[tuple[str, str]], list[str]]:
    """The user's organizations with their role, and those still to approve a join request (OIDC sign-in)."""
    from aicc.services.oidc import login

    names = {o.id: o.display_name for o in organizations.list_orgs(s, p, after=None, limit=500).items}
    mine = [(names.get(org_id, str(org_id)), role.value) for org_id, role in sorted(p.org_roles.items())]
    return mine, [org.display_name for _, org in login.my_requests(s, p)]


@router.get("/projects")
def project_list(view: Member) -> Response:
    p = view.principal
    with view.db.read() as s:
        rows = job_search.visible_projects(s, p)
        orgs = {o.id: o.display_name for o in organizations.list_orgs(s, p, after=None, limit=500).items}
        # what can be spent now (as `aicc usage` marks it), and apart from it what starts later
        usage: dict[int, list[UsageSummary]] = {}
        upcoming: dict[int, list[UsageSummary]] = {}
        now = utcnow()
        for u in metering.summaries(s, p, now=now):
            if u.current(now):
                usage.setdefault(u.project_id, []).append(u)
            elif u.starts_at is not None and u.starts_at > now:
                upcoming.setdefault(u.project_id, []).append(u)
        return view.render("projects.html", projects=rows, orgs=orgs, usage=usage, upcoming=upcoming)


@router.get("/projects/{project_id}")
def project_page(view: Member, project_id: int, done: str = "") -> Response:
    return render_project(view, project_id, notice=done == "1")


def render_project(view: View, project_id: int, *, status: int = 200, error: str | None = None,
                   notice: bool = False) -> Response:
    p = view.principal
    now = utcnow()
    with view.db.read() as s:
        project = projects.get(s, p, project_id)
        org = organizations.get(s, p, project.organization_id) if p.sees_org(project.organization_id) else None
        members = projects.list_members(s, p, project.id)
        summaries = metering.summaries(s, p, project_id=project.id, now=now)
        burn = budget_charts(view, s, summaries, now)
        jobs = job_search.search(s, p, project_id=project.id, per_page=10)
    (storage,) = workspaces.storage_usage(view.db, view.settings, p, project.id)  # measured, nothing made
    return view.render("project.html", status=status, project=project, org=org, members=members,
                       summaries=summaries, burn=burn, jobs=jobs, now=now, error=error, notice=notice,
                       manages=p.is_org_admin(project.organization_id), storage=storage)
