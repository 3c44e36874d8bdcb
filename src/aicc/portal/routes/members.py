"""Organization admins manage people: organization members and roles, project members.

Each form goes through the same service as the API (``organizations.add_member``,
``projects.add_member``…), so who may change what is decided in one place; a
refusal comes back on the page it was asked from.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from aicc.core.errors import Conflict, InvalidInput, NotFound
from aicc.core.tenancy import OrgRole
from aicc.portal.forms import checked
from aicc.portal.routes.admin import render_org
from aicc.portal.routes.home import render_project
from aicc.portal.routing import Member, PortalRoute
from aicc.portal.view import View
from aicc.services import invitations, organizations, projects

router = APIRouter(route_class=PortalRoute)
Csrf = Annotated[str, Form(max_length=100)]
Username = Annotated[str, Form(max_length=64)]



def _problem(view: View, exc: InvalidInput | NotFound | Conflict) -> str:
    _ = view._
    return _("Nothing changed: {detail}", detail=view.reason(exc.detail or "Invalid input"))


@router.post("/orgs/{org_id}/members")
def add_org_member(view: Member, org_id: int, csrf: Csrf = "", username: Username = "",
                   role: Annotated[str, Form(max_length=32)] = "member") -> Response:
    checked(view, csrf)
    try:
        with view.db.write() as s:
            done = invitations.add_or_invite(s, view.principal, org_id, username=username.strip().lower(),
                                             role=OrgRole(role) if role in {r.value for r in OrgRole} else
                                             OrgRole.MEMBER)
    except (InvalidInput, NotFound, Conflict) as exc:
        if isinstance(exc, NotFound) and "user" not in (exc.detail or ""):
            raise
        return render_org(view, org_id, status=422, error=_problem(view, exc))
    return RedirectResponse(f"/orgs/{org_id}?{'invited' if done == 'invited' else 'done'}=1", status_code=303)


@router.post("/orgs/{org_id}/invitations/{invitation_id}/withdraw")
def withdraw_invitation(view: Member, org_id: int, invitation_id: int, csrf: Csrf = "") -> Response:
    checked(view, csrf)
    try:
        with view.db.write() as s:
            invitations.withdraw(s, view.principal, org_id, invitation_id)
    except Conflict as exc:
        return render_org(view, org_id, status=409, error=_problem(view, exc))
    return RedirectResponse(f"/orgs/{org_id}?done=1", status_code=303)


@router.post("/invitations/{invitation_id}/{answer}")
def answer_invitation(view: Member, invitation_id: int, answer: str, csrf: Csrf = "") -> Response:
    """The invitee accepts or declines on their account page."""
    checked(view, csrf)
    if answer not in ("accept", "decline"):
        raise NotFound("invitation not found")
    try:
        with view.db.write() as s:
            invitations.respond(s, view.principal, invitation_id, accept=answer == "accept")
    except Conflict:
        pass  # answered already (a second tab): the account page shows where it stands
    return RedirectResponse(f"/account?{answer}ed=1", status_code=303)


@router.post("/orgs/{org_id}/members/{user_id}/remove")
def remove_org_member(view: Member, org_id: int, user_id: int, csrf: Csrf = "") -> Response:
    checked(view, csrf)
    with view.db.write() as s:
        organizations.remove_member(s, view.principal, org_id, user_id)
    return RedirectResponse(f"/orgs/{org_id}?done=1", status_code=303)


@router.post("/projects/{project_id}/members")
def add_project_member(view: Member, project_id: int, csrf: Csrf = "", username: Username = "") -> Response:
    checked(view, csrf)
    try:
        with view.db.write() as s:
            projects.add_member(s, view.principal, project_id, username=username.strip().lower())
    except (InvalidInput, NotFound) as exc:
        if isinstance(exc, NotFound) and "user" not in (exc.detail or ""):
            raise
        return render_project(view, project_id, status=422, error=_problem(view, exc))
    return RedirectResponse(f"/projects/{project_id}?done=1", status_code=303)


@router.post("/projects/{project_id}/members/{user_id}/remove")
def remove_project_member(view: Member, project_id: int, user_id: int, csrf: Csrf = "") -> Response:
    checked(view, csrf)
    with view.db.write() as s:
        projects.remove_member(s, view.principal, project_id, user_id)
    return RedirectResponse(f"/projects/{project_id}?done=1", status_code=303)
