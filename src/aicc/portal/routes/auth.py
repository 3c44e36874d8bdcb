"""Sign in, sign out, and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from aicc.portal import i18n
from aicc.portal.app import Anyone, Member, PortalRoute
from aicc.portal.session import COOKIE, PRE_COOKIE, check_csrf, presession, set_cookie, sign_in, sign_out
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
    return view.render("signin.html", next=safe_next(next), error=None, username="")


@router.post("/signin")
def signin(
    view: Anyone, username: Annotated[str, Form(max_length=64)], password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=100)] = "", next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    check_csrf(presession(view.request), csrf if view.request.cookies.get(PRE_COOKIE) else None)
    try:
        with view.db.write() as s:
            token = sign_in(s, username, password)
    except Unauthenticated:
        _ = view._
        return view.render("signin.html", status=401, next=safe_next(next), username=username,
                           error=_("Wrong username or password, or the account is disabled."))
    response = RedirectResponse(safe_next(next), status_code=303)
    set_cookie(view.request, response, COOKIE, token)
    response.delete_cookie(PRE_COOKIE, path="/")
    return response


@router.post("/signout")
def signout(view: Member, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    assert view.me is not None
    check_csrf(view.me.csrf, csrf)
    with view.db.write() as s:
        sign_out(s, view.me)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/lang/{code}")
def switch_language(view: Anyone, code: str, next: str = "/") -> Response:
    """Remember the choice for a year; it wins over the browser's Accept-Language."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if code in i18n.LANGS:
        set_cookie(view.request, response, i18n.COOKIE, code, max_age=365 * 86400)
    return response
