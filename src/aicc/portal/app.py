"""Wiring the portal into the API's FastAPI app: routes and static files.

Portal routes are ordinary routes of the one app (not a mounted sub-app), so the API keeps its own 404/405
answers; :class:`aicc.portal.routing.PortalRoute` turns domain errors into pages instead of problem+json.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from aicc.portal.routes import (
    admin,
    applications,
    auth,
    datazone,
    home,
    jobs,
    members,
    notify,
    oidc,
    programs,
    reservations,
    reviews,
    serving,
    sessions,
    testbed,
    workspaces,
)
from aicc.portal.routing import PortalRoute
from aicc.portal.session import Throttle


def router() -> APIRouter:
    r = APIRouter(route_class=PortalRoute, include_in_schema=False)
    for module in (auth, oidc, notify, home, jobs, sessions, reservations, admin, members, programs, applications,
                   reviews, datazone, testbed, workspaces, serving):
        r.include_router(module.router)
    return r


def install(app: FastAPI) -> None:
    """Add the portal to ``app``: pages under /, static files under /static."""
    # Per username: 5 failures in 5 minutes. Per address, more: behind a proxy many people share one.
    app.state.portal_throttles = (Throttle(limit=5), Throttle(limit=50))
    app.mount("/static", StaticFiles(packages=[("aicc.portal", "static")]), name="portal-static")
    app.include_router(router())
