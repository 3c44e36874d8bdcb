"""``/s/<id>/…``: a session reached through the server, HTTP and websockets, by its owner alone.

The portal's sign-in cookie authenticates the person (a browser follows the Open button with it); the
session's own token is added upstream here and never shown. Anyone but the owner, signed in or not, gets the
same 404 problem as for an id that does not exist, on the page and on the websocket alike. A request from
another site's page (its ``Origin`` is not ours) is refused the same way: it must not drive a session with a
person's cookie.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

from fastapi import FastAPI
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from aicc.api.gateway import upstream
from aicc.config import Settings
from aicc.core.errors import NotFound
from aicc.portal.session import COOKIE
from aicc.proxy import forward
from aicc.runner.relay_address import TcpAddress
from aicc.services import sessions, tokens
from aicc.services.principal import Principal
from aicc.store.db import Database

CACHE_S = 2.0
"""How long a (person, session) -> socket answer is reused: a page load is dozens of requests, and a stopped
session's socket is gone anyway."""
_targets: dict[tuple[str, int], tuple[float, sessions.Target]] = {}
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def _not_found() -> JSONResponse:
    return JSONResponse({"type": "https://aicc.dev/problems/not-found", "title": "Not found", "status": 404,
                         "detail": "session not found"}, status_code=404, media_type="application/problem+json")


def _foreign_origin(conn: HTTPConnection) -> bool:
    origin = conn.headers.get("origin")
    return origin is not None and urlsplit(origin).netloc.lower() != conn.headers.get("host", "").lower()


async def _target(conn: HTTPConnection, job_id: int) -> sessions.Target | None:
    """The owner's running session, else None. Cached briefly per cookie (the cookie is the credential)."""
    cookie = conn.cookies.get(COOKIE)
    if not cookie or len(cookie) > 200:
        return None
    now = time.monotonic()
    hit = _targets.get((cookie, job_id))
    if hit is not None and hit[0] > now:
        return hit[1]
    db: Database = conn.app.state.db
    settings: Settings = conn.app.state.settings

    def look() -> sessions.Target | None:
        with db.read() as s:
            try:
                principal: Principal = tokens.authenticate(s, cookie)
                return sessions.target(s, principal, settings, job_id)
            except (tokens.Unauthenticated, NotFound):
                return None

    found = await asyncio.to_thread(look)
    if found is not None and sessions.socket_problem(found.socket) is None:
        if len(_targets) > 10_000:
            _targets.clear()
        _targets[(cookie, job_id)] = (now + CACHE_S, found)
    return found


def _upstream_path(conn: HTTPConnection) -> str:
    """The path as the browser sent it (percent-encoding kept): the session serves under the same prefix."""
    raw = conn.scope.get("raw_path")
    return raw.decode("latin-1") if raw else quote(conn.url.path)


async def session_http(request: Request) -> Response:
    job_id = int(request.path_params["job_id"])
    if not request.url.path.startswith(f"/s/{job_id}/"):
        return RedirectResponse(f"/s/{job_id}/", status_code=307)
    if request.method not in SAFE and _foreign_origin(request):
        return _not_found()
    if request.cookies.get(COOKIE) is None and request.method == "GET":
        return RedirectResponse("/signin?next=" + quote(request.url.path, safe=""), status_code=303)
    found = await _target(request, job_id)
    if found is None:
        return _not_found()
    problem = sessions.socket_problem(found.socket)
    if problem is not None:
        return forward.problem(503, "Service unavailable", f"the session is not listening: {problem}")
    return await forward.forward_http(request, found.socket, _upstream_path(request),
                                      headers={"authorization": f"token {found.token}"})


async def session_websocket(websocket: WebSocket) -> None:
    job_id = int(websocket.path_params["job_id"])
    found = None if _foreign_origin(websocket) else await _target(websocket, job_id)
    if found is None or sessions.socket_problem(found.socket) is not None:
        try:
            await websocket.send_denial_response(_not_found())
        except RuntimeError:  # a server without the denial extension: a plain refusal
            await websocket.close(code=1008)
        return
    sock = None
    if isinstance(found.socket, TcpAddress):  # a session on another host: its relay, past the secret first
        try:
            sock = await upstream.dial(found.socket)
        except (OSError, TimeoutError):
            await websocket.close(code=1011)
            return
    await forward.forward_websocket(websocket, str(found.socket), _upstream_path(websocket),
                                    headers={"authorization": f"token {found.token}"}, sock=sock)


def install(app: FastAPI) -> None:
    """First in the routing table: a page of JupyterLab is dozens of requests, and matching one against the
    app's hundreds of API and portal routes first cost ~10 ms each on a loaded machine (bench/proxy_overhead)."""
    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    app.router.routes[:0] = [
        Route("/s/{job_id:int}/{rest:path}", session_http, methods=methods, include_in_schema=False),
        Route("/s/{job_id:int}", session_http, methods=methods, include_in_schema=False),
        WebSocketRoute("/s/{job_id:int}/{rest:path}", session_websocket),
    ]


def forget(socket: Path | TcpAddress) -> None:
    """Drop cached answers for a session that ended."""
    for key, (_, t) in list(_targets.items()):
        if t.socket == socket:
            _targets.pop(key, None)
