"""Organization admins (members, projects) and center admins (utilization, queue, allocations to watch)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from aicc.core.errors import NotFound
from aicc.core.tenancy import OrgRole
from aicc.portal import charts
from aicc.portal.routing import Member, PortalRoute
from aicc.portal.view import View
from aicc.services import invitations, metering, organizations, projects, utilization
from aicc.services.metering import UsageSummary
from aicc.services.oidc import login as oidc_login
from aicc.store.models import utcnow

router = APIRouter(route_class=PortalRoute)


@router.get("/orgs")
def org_list(view: Member) -> Response:
    p = view.principal
    with view.db.read() as s:
        orgs = [o for o in organizations.list_orgs(s, p, after=None, limit=500).items if p.is_org_admin(o.id)]
    if len(orgs) == 1 and not p.is_center_admin:
        return RedirectResponse(f"/orgs/{orgs[0].id}", status_code=303)
    return view.render("orgs.html", orgs=orgs)


@router.get("/orgs/{org_id}")
def org_page(view: Member, org_id: int, done: str = "", invited: str = "") -> Response:
    return render_org(view, org_id, notice=done == "1", invited=invited == "1")


def render_org(view: View, org_id: int, *, status: int = 200, error: str | None = None, notice: bool = False,
               invited: bool = False) -> Response:
    """Members and projects of one organization: its admins and center admins only (others: not found)."""
    p = view.principal
    with view.db.read() as s:
        org = organizations.get(s, p, org_id)
        if not p.is_org_admin(org.id):
            raise NotFound("organization not found")
        members = organizations.list_members(s, p, org.id)
        pending = [(i, u) for i, u in invitations.of_organization(s, p, org.id) if i.state == "pending"]
        asking = oidc_login.pending_requests(s, p, org.id)  # signed in at their institution, no group matched
        rows = projects.list_projects(s, p, after=None, limit=500, organization_id=org.id, name=None).items
        ids = {r.id for r in rows}
        usage: dict[int, list[UsageSummary]] = {}
        for u in metering.summaries(s, p):
            if u.project_id in ids:
                usage.setdefault(u.project_id, []).append(u)
    roles = [OrgRole.MEMBER, OrgRole.ORG_ADMIN] + ([OrgRole.DATA_CUSTODIAN] if p.is_center_admin else [])
    return view.render("org.html", status=status, org=org, members=members, projects=rows, usage=usage,
                       roles=[r.value for r in roles], error=error, notice=notice, invited=invited,
                       pending=pending, asking=asking)


RANGES = (7, 14, 30, 90)


@router.get("/center")
def center(view: Member, days: int = 14) -> Response:
    p = view.principal
    p.require_center_admin()
    _, f = view._, view.f
    days = days if days in RANGES else 14
    now = utcnow()
    with view.db.read() as s:
        use = utilization.flavor_utilization(s, p, now, days=days)
        queue = utilization.queue_by_project(s, p)
        summaries = metering.summaries(s, p, now=now)
        health = utilization.allocation_health(
            summaries, utilization.allocation_starts(s, [u.allocation_id for u in summaries]), now)
    chart = charts.line_chart(
        {u.flavor: [(day, frac * 100) for day, frac in u.daily] for u in use if u.capacity},
        title=_("Utilization per flavor, last {days} days", days=days),
        description=_("Share of each flavor's capacity in use per day, in percent; the table below has the numbers."),
        fmt_x=f.day, fmt_y=lambda v: f.num(v, 0) + "%", y_ceiling=100.0, chart_id="util",
        width=600, height=260)  # drawn at the width it keeps on a phone (min-width in portal.css): labels stay 12px
    bars = charts.bar_chart([(q.project, float(q.pending)) for q in queue[:12]], title=_("Pending jobs by project"),
                            description=_("Number of waiting jobs per project."), fmt=lambda v: f.num(v, 0),
                            chart_id="queue")
    return view.render("center.html", use=use, chart=chart, queue=queue, bars=bars, health=health, now=now,
                       days=days, ranges=RANGES)
