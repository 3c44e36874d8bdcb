"""The FastAPI application: routers under /api/v1, health and metrics at the root.

``create_app`` takes its settings and database explicitly so tests build as many
apps as they like, each on its own database, and nothing is global.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from aicc import __version__
from aicc.api import problems
from aicc.api.limits import BodyLimit
from aicc.api.metrics import Metrics, MetricsMiddleware
from aicc.api.routers import (
    allocations,
    audit,
    bench,
    datazone,
    inventory,
    jobs,
    organizations,
    programs,
    projects,
    tokens,
    usage,
    users,
)
from aicc.config import Settings, load_settings
from aicc.controller.wake import poke
from aicc.services import inventory as inventory_svc
from aicc.services.submission import Submitter
from aicc.store.db import Database

DESCRIPTION = """AICC runs a shared public AI computing center: organizations, projects,
allocations of accelerator-hours, jobs, a secure data zone and the center's inventory.

Every call needs `Authorization: Bearer <token>`. Errors are RFC 9457 `application/problem+json`.
Lists are paginated with `limit` and an opaque `cursor` (`next_cursor` in each page).
Updates carry the `version` you read; a stale version gets 409 and nothing is written."""


def _controller(settings: Settings, db: Database, metrics: Metrics) -> Any:
    """The controller, on the engine the site's inventory names ("local" until one says "slurm")."""
    from aicc.controller.loop import Controller

    return Controller(settings, db, metrics=metrics.controller)


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or load_settings()
    db = db or Database(settings.database_url)
    if db.audit_seal is None:
        from aicc.services.audit_seal import AuditSeal

        db.audit_seal = AuditSeal.from_settings(settings)
    metrics = Metrics()
    controller = _controller(settings, db, metrics) if settings.controller else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        from aicc.services import audit as audit_svc

        try:  # the audit key exists, and the chain is keyed and anchored, before any request
            with db.write() as s:
                audit_svc.start(s)
        except DBAPIError:  # not migrated yet: /readyz says so, and the first audited write keys the chain
            pass
        if controller is not None:
            controller.start()
        yield
        app.state.submitter.close()
        if controller is not None:
            controller.stop()
        db.audit_seal.flush()  # a clean shutdown anchors the last committed head

    app = FastAPI(
        lifespan=lifespan,
        title="AICC",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # served below from the package's own Swagger UI files: centers may be air-gapped
        redoc_url=None,
    )
    _offline_docs(app)
    app.state.settings = settings
    app.state.db = db
    app.state.metrics = metrics
    app.state.controller = controller
    app.state.submitter = Submitter(db, settings)
    # Without a controller of its own (an API worker of `aicc server --processes N`), a submission pokes the
    # center's controller process on this machine.
    app.state.wake_controller = controller.wake if controller is not None else partial(poke, settings.home)
    problems.install(app)

    api = APIRouter(prefix="/api/v1")
    # jobs first: the submission path is the hottest, and routes are matched in order
    for module in (jobs, organizations, users, projects, allocations, usage, tokens, inventory, audit, bench, datazone,
                   programs):
        api.include_router(module.router)
    api.include_router(organizations.mine)  # /invitations: the invitee's side
    app.include_router(api)

    @app.get("/healthz", tags=["health"], include_in_schema=True)
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "database unreachable"}})
    def readyz() -> Response:
        """The database answers and its schema is migrated."""
        try:
            with db.read() as s:
                s.execute(text("SELECT seq FROM audit_head WHERE id = 1")).one()
        except Exception:  # any failure means not ready
            return problems.problem(503, "Not ready", "database unreachable or not migrated")
        return Response('{"status":"ready"}', media_type="application/json")

    @app.get("/metrics", tags=["health"], response_class=Response)
    def prometheus() -> Response:
        """Prometheus text format."""
        metrics.devices.refresh()
        with db.read() as s:
            for f in inventory_svc.flavors(s):
                metrics.capacity.labels(f.name).set(0)
            for n, flavor in inventory_svc.nodes(s):
                metrics.capacity.labels(flavor).inc(n.cpus if n.accelerators == 0 else n.accelerators)
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    from aicc.portal.app import install as install_portal

    install_portal(app)  # after every API route: the portal's pages live under /
    problems.document(app)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app


DOCS_ASSETS = "/api/v1/docs/assets"


def _offline_docs(app: FastAPI) -> None:
    """`/api/v1/docs`: Swagger UI from the `swagger-ui-bundle` package (Apache-2.0), not from a CDN."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

    app.mount(DOCS_ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    @app.get("/api/v1/docs", include_in_schema=False)
    def docs() -> Response:
        return get_swagger_ui_html(openapi_url="/api/v1/openapi.json", title="AICC API",
                                   swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png")
