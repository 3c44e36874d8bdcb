"""``/svc/<project>/<name>/…``: a service's API key in, a healthy replica's answer out.

HTTP requests are served by ``asgi`` (raw ASGI, before FastAPI); websockets by the route here. Order of
checks, each answering before the next looks: a key (``Authorization: Bearer``; none, unknown or
revoked: 401), the service the key opens (any other service, or one of another organization: 404, so a key
learns nothing of services it does not open), its rate (429 with ``Retry-After``), the service's state (503
with its reason), a ready replica (503). A replica whose socket refuses the connection (it just died: nothing
was sent) is skipped and the next one tried, so a killed replica costs only the requests it was answering.
"""

from __future__ import annotations

import math

from fastapi import APIRouter, WebSocket
from starlette.responses import Response

from aicc.api.gateway import upstream
from aicc.api.gateway.state import Gateway, Route
from aicc.api.problems import problem
from aicc.core.serving import ServiceState
from aicc.proxy.forward import forward_websocket
from aicc.runner.relay_address import TcpAddress
from aicc.services.serving.keys import KeyGrant

router = APIRouter(tags=["gateway"])
MAX_TRIES = 3


def bearer(value: str | bytes | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header's value, or None."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    scheme, _, token = (value or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def admit(gw: Gateway, token: str | None, project: str, name: str) -> tuple[Route, KeyGrant] | Response:
    if token is None:
        return problem(401, "Unauthorized", "send the service's API key as Authorization: Bearer <key>")
    grant = await gw.grant(token)
    if grant is None:
        return problem(401, "Unauthorized", "unknown or revoked API key")
    await gw.refresh()
    route = gw.routes.get((project, name))
    if route is None or route.service_id != grant.service_id or not route.sockets:
        await gw.refresh_on_miss()
        route = gw.routes.get((project, name))
    if route is None or route.service_id != grant.service_id:
        return problem(404, "Not found", "service not found")
    wait = gw.limit(grant)
    if wait > 0:
        resp = problem(429, "Too many requests", f"this key may send {grant.rate_per_s:g} requests/s")
        resp.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return resp
    if route.state != ServiceState.ACTIVE.value:
        return problem(503, "Service unavailable", f"the service is {route.state}: {route.reason}")
    return route, grant


def _upstream_path(raw_path: bytes, project: str, name: str, path: str) -> str:
    raw = raw_path.decode("latin-1")
    prefix = f"/svc/{project}/{name}"
    if raw.startswith(prefix):
        return raw[len(prefix):] or "/"
    return "/" + path


@router.websocket("/svc/{project}/{name}/{path:path}")
async def service_websocket(websocket: WebSocket, project: str, name: str, path: str) -> None:
    gw: Gateway = websocket.app.state.gateway
    admitted = await admit(gw, bearer(websocket.headers.get("authorization")), project, name)
    if isinstance(admitted, Response):
        await websocket.send_denial_response(admitted)
        return
    route, _ = admitted
    choice = gw.pick(route, set())
    if choice is None:
        await websocket.send_denial_response(problem(503, "Service unavailable", "no replica of this service is ready"))
        return
    job_id, target = choice
    connected = None
    if isinstance(target, TcpAddress):  # a relay on a node: connected here, past its secret
        try:
            connected = await upstream.dial(target)
        except (OSError, TimeoutError):
            await websocket.send_denial_response(problem(503, "Service unavailable", "the replica did not answer"))
            return
    gw.begin(route.service_id, job_id)
    try:
        await forward_websocket(websocket, str(target), _upstream_path(websocket.scope.get("raw_path") or b"",
                                                                       project, name, path),
                                headers={"X-Forwarded-Prefix": f"/svc/{project}/{name}"}, sock=connected)
    finally:
        gw.end(route.service_id, job_id)
