"""What every portal route shares: the page's view as a dependency, and a route class that turns domain
errors into pages (instead of problem+json) and adds the security headers.

Route modules import from here, and ``portal/app.py`` imports the route modules: no cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from aicc.config import Settings
from aicc.core.errors import DomainError
from aicc.portal import i18n
from aicc.portal.i18n import N_
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
                response = _error_page(request, 403, N_("Form expired"),
                                       anyone(request)._("Reload the page and try again."))
            except DomainError as exc:
                titles = {404: N_("Not found"), 403: N_("Not allowed"), 409: N_("Conflict"), 422: N_("Invalid input")}
                response = _error_page(request, exc.status, titles.get(exc.status, N_("Error")), exc.detail or "")
            except RequestValidationError:
                response = _error_page(request, 400, "Invalid input",
                                       anyone(request)._("Some fields are missing or malformed."))
            for key, value in SECURITY_HEADERS.items():
                response.headers.setdefault(key, value)
            return response

        return route
