"""``/svc/<project>/<name>/…``: a service's API key in, a healthy replica's answer out.

Order of checks, each answering before the next looks: a key (``Authorization: Bearer``; none, unknown or
revoked: 401), the service the key opens (any other service, or one of another organization: 404, so a key
learns nothing of services it does not open), its rate (429 with ``Retry-After``), the service's state (503
with its reason), a ready replica (503). Bytes are carried by ``aicc.proxy.forward`` only. A replica whose
socket refuses the connection (it just died: nothing was sent) is skipped and the next one tried, so a killed
replica costs only the requests it was answering.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request, WebSocket
from starlette.responses import JSONResponse, Response, StreamingResponse

from aicc.api.gateway.state import Gateway, Route
from aicc.api.problems import problem
from aicc.core.serving import ServiceState
from aicc.proxy.forward import forward_http, forward_websocket
from aicc.services.serving.keys import KeyGrant

router = APIRouter(tags=["gateway"])
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
MAX_TRIES = 3


def _bearer(headers: object) -> str | None:
    value = headers.get("authorization", "")  # type: ignore[attr-defined]
    scheme, _, token = str(value).partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _admit(gw: Gateway, token: str | None, project: str, name: str) -> tuple[Route, KeyGrant] | Response:
    if token is None:
        return problem(401, "Unauthorized", "send the service's API key as Authorization: Bearer <key>")
    grant = await gw.grant(token)
    if grant is None:
        return problem(401, "Unauthorized", "unknown or revoked API key")
    await gw.refresh()
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


@router.api_route("/svc/{project}/{name}/{path:path}", methods=METHODS, include_in_schema=False)
async def service_http(request: Request, project: str, name: str, path: str) -> Response:
    gw: Gateway = request.app.state.gateway
    t0 = time.perf_counter()
    admitted = await _admit(gw, _bearer(request.headers), project, name)
    if isinstance(admitted, Response):
        return admitted
    route, _ = admitted
    label = f"{project}/{name}"
    upstream = _upstream_path(request.scope.get("raw_path") or request.url.path.encode(), project, name, path)
    headers = {"X-Forwarded-Prefix": f"/svc/{project}/{name}"}
    has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
    tried: set[int] = set()
    m = gw.metrics
    for _ in range(MAX_TRIES):
        choice = gw.pick(route, tried)
        if choice is None:
            break
        job_id, sock = choice
        gw.begin(route.service_id, job_id)
        m.in_flight.labels(label).inc()
        resp = await forward_http(request, sock, upstream, headers=headers)
        refused = resp.status_code == 503 and isinstance(resp, JSONResponse)  # forward's own: never connected
        if refused and not has_body:
            gw.end(route.service_id, job_id)
            m.in_flight.labels(label).dec()
            gw.drop(route, job_id)
            tried.add(job_id)
            continue
        m.latency.labels(label).observe(time.perf_counter() - t0)
        m.requests.labels(label, str(resp.status_code)).inc()
        if isinstance(resp, JSONResponse) and resp.status_code in (502, 503):
            m.errors.labels(label).inc()
        return _counted(gw, resp, route.service_id, job_id, label)
    m.requests.labels(label, "503").inc()
    m.errors.labels(label).inc()
    resp = problem(503, "Service unavailable", "no replica of this service is ready; retry shortly")
    resp.headers["Retry-After"] = "1"
    return resp


def _counted(gw: Gateway, resp: Response, service_id: int, job_id: int, label: str) -> Response:
    """The request stays in flight until its last byte went down (a stream may last minutes)."""
    def done() -> None:
        gw.end(service_id, job_id)
        gw.metrics.in_flight.labels(label).dec()

    if not isinstance(resp, StreamingResponse):
        done()
        return resp
    inner = resp.body_iterator

    async def body() -> AsyncIterator[bytes | str | memoryview]:
        try:
            async for chunk in inner:
                yield chunk
        finally:
            done()

    resp.body_iterator = body()
    return resp


@router.websocket("/svc/{project}/{name}/{path:path}")
async def service_websocket(websocket: WebSocket, project: str, name: str, path: str) -> None:
    gw: Gateway = websocket.app.state.gateway
    admitted = await _admit(gw, _bearer(websocket.headers), project, name)
    if isinstance(admitted, Response):
        await websocket.send_denial_response(admitted)
        return
    route, _ = admitted
    choice = gw.pick(route, set())
    if choice is None:
        await websocket.send_denial_response(problem(503, "Service unavailable", "no replica of this service is ready"))
        return
    job_id, sock = choice
    gw.begin(route.service_id, job_id)
    try:
        await forward_websocket(websocket, sock, _upstream_path(websocket.scope.get("raw_path") or b"", project,
                                                                name, path),
                                headers={"X-Forwarded-Prefix": f"/svc/{project}/{name}"})
    finally:
        gw.end(route.service_id, job_id)
