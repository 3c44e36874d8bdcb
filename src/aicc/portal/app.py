"""Wiring the portal into the API's FastAPI app: routes, static files, error pages, security headers.

Portal routes are ordinary routes of the one app (not a mounted sub-app), so the
API keeps its own 404/405 answers; a route class turns domain errors into pages
instead of problem+json.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from aicc.config import Settings
from aicc.core.errors import DomainError
from aicc.portal import i18n
from aicc.portal.session import BadCsrf, NeedsSignIn, current
from aicc.portal.view import View
from aicc.store.db import Database

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _view(request: Request, signed_in: bool) -> View:
    state = request.app.state
    db: Database = state.db
    settings: Settings = state.settings
    lang = i18n.negotiate(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language"))
    me = current(request, db) if signed_in else None
    return View(request, lang, me, settings, db)


def anyone(request: Request) -> View:
    """A page that needs no sign-in (the sign-in page itself); knows the user if there is one."""
    try:
        return _view(request, True)
    except NeedsSignIn:
        return _view(request, False)


def member(request: Request) -> View:
    """Any signed-in user; otherwise off to the sign-in page."""
    return _view(request, True)


Anyone = Annotated[View, Depends(anyone)]
Member = Annotated[View, Depends(member)]


def _error_page(request: Request, status: int, title: str, detail: str) -> Response:
    view = anyone(request)
    _ = view._
    return view.render("error.html", status=status, title=_(title), detail=view.reason(detail))


class PortalRoute(APIRoute):
    """Renders errors as pages in the user's language: 404 for other tenants' objects, as the API does."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            response: Response
            try:
                response = await handler(request)
            except NeedsSignIn:  # after signing in, come back (to the page; a form's POST is not repeatable)
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                target = target if request.method == "GET" else "/"
                response = RedirectResponse("/signin?next=" + quote(target, safe=""), status_code=303)
            except BadCsrf:
                response = _error_page(request, 403, "Form expired",
                                       anyone(request)._("Reload the page and try again."))
            except DomainError as exc:
                titles = {404: "Not found", 403: "Not allowed", 409: "Conflict", 422: "Invalid input"}
                response = _error_page(request, exc.status, titles.get(exc.status, "Error"), exc.detail or "")
            except RequestValidationError:
                response = _error_page(request, 400, "Invalid input",
                                       anyone(request)._("Some fields are missing or malformed."))
            for key, value in SECURITY_HEADERS.items():
                response.headers.setdefault(key, value)
            return response

        return route


def router() -> APIRouter:
    from aicc.portal.routes import admin, auth, datazone, home, jobs, members, programs, serving, testbed

    r = APIRouter(route_class=PortalRoute, include_in_schema=False)
    for module in (auth, home, jobs, admin, members, programs, datazone, testbed, serving):
        r.include_router(module.router)
    return r


def install(app: FastAPI) -> None:
    """Add the portal to ``app``: pages under /, static files under /static."""
    from aicc.portal.session import Throttle

    # Per username: 5 failures in 5 minutes. Per address, more: behind a proxy many people share one.
    app.state.portal_throttles = (Throttle(limit=5), Throttle(limit=50))
    app.mount("/static", StaticFiles(packages=[("aicc.portal", "static")]), name="portal-static")
    app.include_router(router())
