"""Sign in, sign out, the language switch, and one's own account (password change)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from aicc.core.errors import InvalidInput
from aicc.portal import i18n
from aicc.portal.routing import Anyone, Member, PortalRoute
from aicc.portal.session import (
    COOKIE,
    PRE_COOKIE,
    check_csrf,
    presession,
    set_cookie,
    sign_in,
    sign_out,
)
from aicc.portal.view import View
from aicc.services import invitations, organizations, users
from aicc.services.tokens import Unauthenticated

router = APIRouter(route_class=PortalRoute)


def safe_next(target: str | None) -> str:
    """Only a path on this site: no open redirect through ``?next=//evil.example``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/signin")
def signin_page(view: Anyone, next: str = "/") -> Response:
    if view.me is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _signin_page(view, next=safe_next(next))


def _signin_page(view: View, status: int = 200, *, next: str, error: str | None = None, username: str = "") -> Response:
    """The password form (unless switched off) and a button per identity provider, with its trouble if any."""
    from aicc.portal.routes.oidc import providers

    registry = providers(view)
    idps = [(p.config.name, p.config.label, p.error) for p in registry.by_name.values()]
    return view.render("signin.html", status=status, next=next, error=error, username=username, idps=idps,
                       password_signin=registry.password_signin)


@router.post("/signin")
def signin(
    view: Anyone, username: Annotated[str, Form(max_length=64)], password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=100)] = "", next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    check_csrf(presession(view.request), csrf if view.request.cookies.get(PRE_COOKIE) else None)
    _ = view._
    if not view.settings.password_signin:
        from aicc.portal.routes.oidc import refused
        from aicc.services.oidc.client import Refusal, SignInRefused

        return refused(view, SignInRefused(Refusal.PASSWORD_OFF, "password sign-in is off"))
    per_user, per_addr = view.request.app.state.portal_throttles
    user_key = username.strip().lower()
    addr_key = view.request.client.host if view.request.client else "?"
    if per_user.blocked(user_key) or per_addr.blocked(addr_key):
        return _signin_page(view, 429, next=safe_next(next), username=username,
                            error=_("Too many failed attempts. Wait a few minutes and try again."))
    try:
        with view.db.write() as s:
            token = sign_in(s, username, password)
    except Unauthenticated:
        per_user.fail(user_key)
        per_addr.fail(addr_key)
        return _signin_page(view, 401, next=safe_next(next), username=username,
                            error=_("Wrong username or password, or the account is disabled."))
    per_user.clear(user_key)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_cookie(view.request, response, COOKIE, token)
    response.delete_cookie(PRE_COOKIE, path="/")
    return response


@router.post("/signout")
def signout(view: Member, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    assert view.me is not None
    check_csrf(view.me.csrf, csrf)
    from aicc.portal.routes.oidc import IDP_COOKIE, logout_redirect

    with view.db.write() as s:
        sign_out(s, view.me)
    at_provider = logout_redirect(view)
    response: Response
    if at_provider:  # a page that goes on to the provider: a form's redirect there would break form-action 'self'
        response = view.render("signed_out.html", at_provider=at_provider)
    else:
        response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    response.delete_cookie(IDP_COOKIE, path="/")
    return response


@router.get("/lang/{code}")
def switch_language(view: Anyone, code: str, next: str = "/") -> Response:
    """Remember the choice for a year; it wins over the browser's Accept-Language."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if code in i18n.LANGS:
        set_cookie(view.request, response, i18n.COOKIE, code, max_age=365 * 86400)
    return response


@router.get("/account")
def account(view: Member, changed: bool = False) -> Response:
    return _account(view, changed=changed)


def _account(view: View, status: int = 200, error: str | None = None, changed: bool = False) -> Response:
    p = view.principal
    with view.db.read() as s:
        me = users.get(s, p, p.user_id)
        orgs = {o.id: o.display_name for o in organizations.list_orgs(s, p, after=None, limit=500).items}
        pending = invitations.mine(s, p)
    roles = [(orgs.get(org_id, str(org_id)), role.value) for org_id, role in sorted(p.org_roles.items())]
    return view.render("account.html", status=status, user=me, roles=roles, error=error, changed=changed,
                       invitations=pending)


@router.post("/account/password")
def change_password(
    view: Member, csrf: Annotated[str, Form(max_length=100)] = "",
    current: Annotated[str, Form(max_length=1024)] = "", new: Annotated[str, Form(max_length=1024)] = "",
    confirm: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    assert view.me is not None
    check_csrf(view.me.csrf, csrf)
    _ = view._
    if new != confirm:
        return _account(view, 422, _("The two new passwords differ."))
    try:
        with view.db.write() as s:
            users.set_password(s, view.principal, view.principal.user_id, password=new, current=current)
    except InvalidInput as exc:
        return _account(view, 422, _(exc.detail or "Invalid input"))
    return RedirectResponse("/account?changed=1", status_code=303)
