"""The FastAPI application: routers under /api/v1, health and metrics at the root.

``create_app`` takes its settings and database explicitly so tests build as many
apps as they like, each on its own database, and nothing is global.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from aicc import __version__
from aicc.api import problems
from aicc.api.gateway import routes as gateway_routes
from aicc.api.limits import BodyLimit
from aicc.api.metrics import Metrics, MetricsMiddleware
from aicc.api.routers import (
    allocations,
    audit,
    bench,
    courses,
    datazone,
    incoming,
    inventory,
    job_files,
    jobs,
    notifications,
    organizations,
    programs,
    projects,
    reservations,
    serving,
    sessions,
    tokens,
    usage,
    users,
    workspaces,
)
from aicc.config import Settings, load_settings
from aicc.controller.wake import poke
from aicc.services import inventory as inventory_svc
from aicc.services import token_cache
from aicc.services.notify.delivery import spawn as spawn_notifier
from aicc.services.oidc.registry import Providers
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


def _gateway(settings: Settings, db: Database, metrics: Metrics) -> tuple[Any, Any]:
    from aicc.api.gateway.state import Gateway
    from aicc.services.serving.traffic import Traffic

    traffic = Traffic()
    return traffic, Gateway(settings, db, traffic, metrics.registry)


def _supervisor(settings: Settings, db: Database, controller: Any, traffic: Any) -> Any:
    """The service supervisor runs beside the controller, and only while this process holds its lock."""
    if controller is None:
        return None
    from aicc.controller.serving import Supervisor

    return Supervisor(settings, db, wake=controller.wake, leads=lambda: controller.lock.held, traffic=traffic)


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or load_settings()
    db = db or Database(settings.database_url)
    if db.audit_seal is None:
        from aicc.services.audit_seal import AuditSeal

        db.audit_seal = AuditSeal.from_settings(settings)
    metrics = Metrics()
    controller = _controller(settings, db, metrics) if settings.controller else None
    # the outbox is delivered, by a process of its own, where the controller runs (AICC_CONTROLLER=off: API only)
    notify = settings.notify and settings.controller
    traffic, gateway = _gateway(settings, db, metrics)
    supervisor = _supervisor(settings, db, controller, traffic)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        from aicc.services import audit as audit_svc

        try:  # the audit key exists, and the chain is keyed and anchored, before any request
            with db.write() as s:
                audit_svc.start(s)
        except DBAPIError:  # not migrated yet: /readyz says so, and the first audited write keys the chain
            pass
        from aicc.services.workspaces import workspaces as workspace_root

        workspace_root(settings)  # says now, in the log, whether the file system enforces workspace quotas
        watcher = None
        if controller is not None:
            controller.start()
            from aicc.proxy.watch import watch

            watcher = asyncio.create_task(watch(db, settings, controller.wake))  # sessions: ready? idle?
        threading.Thread(target=app.state.oidc.check_all, name="oidc-discovery", daemon=True).start()
        notifier = spawn_notifier(settings) if notify else None
        if supervisor is not None:
            supervisor.start()
        yield
        if notifier is not None:
            notifier.terminate()
            notifier.wait(15)
        app.state.submitter.close()
        if watcher is not None:
            watcher.cancel()
            from aicc.proxy.forward import release_all

            await release_all()
        if supervisor is not None:
            supervisor.stop()
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
    app.state.gateway = gateway
    app.state.supervisor = supervisor
    app.state.submitter = Submitter(db, settings)
    # every server process of this center drops cached tokens the moment one of them revokes or changes access
    token_cache.cache.share(settings.home / "auth-epoch")
    # Without a controller of its own (an API worker of `aicc server --processes N`), a submission pokes the
    # center's controller process on this machine.
    app.state.wake_controller = controller.wake if controller is not None else partial(poke, settings.home)
    app.state.oidc = Providers.from_settings(settings)  # a malformed OIDC file stops the start, with the reason
    problems.install(app)

    api = APIRouter(prefix="/api/v1")
    # jobs first: the submission path is the hottest, and routes are matched in order
    for module in (jobs, organizations, users, projects, allocations, usage, tokens, inventory, audit, bench, datazone,
                   programs, workspaces, job_files, incoming, notifications, sessions, courses, serving, reservations):
        api.include_router(module.router)
    api.include_router(organizations.mine)  # /invitations: the invitee's side
    app.include_router(api)
    app.include_router(gateway_routes.router)

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

    from aicc.proxy.sessions import install as install_session_proxy

    install_session_proxy(app)  # /s/<id>/: before the portal's pages
    from aicc.portal.app import install as install_portal

    install_portal(app)  # after every API route: the portal's pages live under /
    problems.document(app)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, streamed=workspaces.STREAMED,
                       passthrough=("/s/", "/svc/"))
    from aicc.api.gateway.asgi import GatewayFastPath

    app.add_middleware(GatewayFastPath, gateway=gateway)  # outermost: /svc/ pays for none of the above
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
