"""``/svc/<project>/<name>/…`` over HTTP as raw ASGI, in front of everything else the server does.

Why raw ASGI and not a FastAPI route: a request to a service is never an API call, yet a route pays for the
router's matching against every API path, the middlewares (metrics, body limit, exception handling), a
``Request`` object and a ``StreamingResponse`` — about as much CPU as the model server's own framework on these
cores. Here a request costs its checks (``routes.admit``, all answered from caches in memory), one pooled
keep-alive connection to a replica's socket (``upstream``) and the bytes. Websockets still take the FastAPI
route in ``routes``: they are long-lived, so their set-up cost does not matter.

Retries: a request whose body we hold (none, or at most ``HOLD_BYTES``) is tried on the next replica when the
chosen one refused the connection (nothing was sent) or its relay said nothing listens on the port, and once
more on a fresh connection when a pooled one turned out closed before any answer (the keep-alive race). A
bigger body streams up as it comes and is never replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from starlette.responses import Response

from aicc.api.gateway import upstream
from aicc.api.gateway.routes import MAX_TRIES, admit, bearer
from aicc.api.gateway.state import Gateway
from aicc.api.problems import problem
from aicc.proxy.forward import OUR_COOKIE_PREFIX, upstream_headers
from aicc.services.serving.replicas import Target

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PREFIX = "/svc/"
HOLD_BYTES = 1024 * 1024
"""Request bodies up to this size are read whole before sending (so they can be replayed on another replica)."""
RESPONSE_TIMEOUT_S = 300.0
"""How long to wait for a response's head: a model may think for minutes before its first byte."""
SMALL_BODY = 64 * 1024
_HOP = frozenset({b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te", b"trailer",
                  b"trailers", b"transfer-encoding", b"upgrade", b"proxy-connection", b"content-length"})


class GatewayFastPath:
    """ASGI middleware: ``/svc/…`` HTTP requests are answered here; everything else goes on to ``app``."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app, self.gateway = app, gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            await serve(self.gateway, scope, receive, send)
            return
        await self.app(scope, receive, send)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def _downstream(head: upstream.Head) -> list[tuple[bytes, bytes]]:
    named = {t.strip() for k, v in head.headers if k == b"connection" for t in v.lower().split(b",")}
    out = []
    for k, v in head.headers:
        if k in _HOP or k in named:
            continue
        if k == b"set-cookie" and v.strip().lower().startswith(OUR_COOKIE_PREFIX.encode()):
            continue  # a run may never set AICC's own cookies in a person's browser
        out.append((k, v))
    if not head.chunked:
        length = _header(head.headers, b"content-length")
        if length is not None:
            out.append((b"content-length", length))
    return out


async def _read_all(receive: Receive) -> bytes | None:
    """The request's whole body; None when the client left first."""
    parts = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)


async def _stream_in(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise upstream.BrokeOff("the client left while sending its body")
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


async def _answer(resp: Response, scope: Scope, receive: Receive, send: Send) -> None:
    await resp(scope, receive, send)


async def serve(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    t0 = time.perf_counter()
    segments = scope["path"].split("/", 4)  # '', 'svc', project, name[, rest]
    if len(segments) < 4 or not segments[2] or not segments[3]:
        await _answer(problem(404, "Not found", "service addresses are /svc/<project>/<name>/…"), scope, receive,
                      send)
        return
    project, name = segments[2], segments[3]
    raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
    admitted = await admit(gw, bearer(_header(raw_headers, b"authorization")), project, name)
    if isinstance(admitted, Response):
        await _answer(admitted, scope, receive, send)
        return
    route, _ = admitted
    label = f"{project}/{name}"
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    rest = raw_path.split(b"/", 4)
    target = ("/" + rest[4].decode("latin-1")) if len(rest) == 5 else "/"
    if scope.get("query_string"):
        target += "?" + scope["query_string"].decode("latin-1")
    hdrs = upstream_headers(raw_headers, {"x-forwarded-prefix": f"/svc/{project}/{name}"})
    if _header(raw_headers, b"host") is None:
        hdrs.append(("host", "run"))
    declared = _header(raw_headers, b"content-length")
    has_body = declared is not None or _header(raw_headers, b"transfer-encoding") is not None
    held: bytes | None = b""
    if has_body and declared is not None and declared.isdigit() and int(declared) <= HOLD_BYTES:
        held = await _read_all(receive)
        if held is None:
            return  # the client left
    elif has_body:
        held = None  # streamed: read from the client as it is sent upstream
    method: str = scope["method"]
    length = -1 if not has_body else (len(held) if held is not None else
                                      (int(declared) if declared is not None and declared.isdigit() else None))
    head_bytes = upstream.request_head(method, target, hdrs, length)
    m = gw.metrics.of(label)
    tried: set[int] = set()
    for _ in range(MAX_TRIES):
        choice = gw.pick(route, tried)
        if choice is None:
            break
        job_id, sock = choice
        gw.begin(route.service_id, job_id)
        m.in_flight.inc()
        try:
            outcome = await _exchange(gw, scope, receive, send, sock, method, head_bytes, held, length, m, t0)
        finally:
            gw.end(route.service_id, job_id)
            m.in_flight.dec()
        if outcome == "refused":
            gw.drop(route, job_id)
            tried.add(job_id)
            continue
        return
    m.count(503)
    m.errors.inc()
    resp = problem(503, "Service unavailable", "no replica of this service is ready; retry shortly")
    resp.headers["Retry-After"] = "1"
    await _answer(resp, scope, receive, send)


async def _exchange(gw: Gateway, scope: Scope, receive: Receive, send: Send, sock: Target, method: str,
                    head_bytes: bytes, held: bytes | None, length: int | None, m: Any, t0: float) -> str:
    """One try on one replica: "refused" (try another), else "done" (the client has its whole answer)."""
    for fresh_try in range(2):
        try:
            conn = await gw.pool.acquire(sock)
        except upstream.Refused:
            return "refused"
        sender: asyncio.Task[None] | None = None
        try:
            try:
                conn.writer.write(head_bytes)
                if held:
                    conn.writer.write(held)
                    await conn.writer.drain()
                elif held is None:
                    sender = asyncio.create_task(upstream.send_body(conn, _stream_in(receive), length is None))
                else:
                    await conn.writer.drain()
                async with asyncio.timeout(RESPONSE_TIMEOUT_S):
                    head = await upstream.read_head(conn, method)
            except (upstream.BrokeOff, ConnectionResetError, BrokenPipeError) as exc:
                upstream.close_quietly(conn)
                if conn.reused and held is not None and fresh_try == 0:
                    continue  # a pooled connection the replica had closed: once more on a new one
                if not conn.reused and held is not None and isinstance(exc, ConnectionResetError | BrokenPipeError):
                    return "refused"
                await _fail(scope, receive, send, m, 502, "the service broke off the connection")
                return "done"
            except TimeoutError:
                upstream.close_quietly(conn)
                await _fail(scope, receive, send, m, 502, f"no answer from the service within {RESPONSE_TIMEOUT_S:g} s")
                return "done"
            if head.status == 503 and (b"x-aicc-relay", b"refused") in head.headers and held is not None:
                upstream.close_quietly(conn)  # the relay's own answer: nothing listens on the port inside
                return "refused"
            m.latency.observe(time.perf_counter() - t0)
            m.count(head.status)
            await _relay_body(gw, scope, receive, send, sock, conn, head, sender, m)
            return "done"
        finally:
            if sender is not None and not sender.done():
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sender
    return "done"


async def _fail(scope: Scope, receive: Receive, send: Send, m: Any, status: int, detail: str) -> None:
    m.count(status)
    m.errors.inc()
    await _answer(problem(status, "Bad gateway" if status == 502 else "Service unavailable", detail), scope, receive,
                  send)


async def _relay_body(gw: Gateway, scope: Scope, receive: Receive, send: Send, sock: Target, conn: upstream.Conn,
                      head: upstream.Head, sender: asyncio.Task[None] | None, m: Any) -> None:
    start = {"type": "http.response.start", "status": head.status, "headers": _downstream(head)}
    reusable = head.keep_alive and sender is None
    if head.length is not None and head.length <= SMALL_BODY and not head.chunked:
        try:
            body = await conn.reader.readexactly(head.length) if head.length else b""
        except (asyncio.IncompleteReadError, ConnectionResetError):
            upstream.close_quietly(conn)
            m.errors.inc()
            await _answer(problem(502, "Bad gateway", "the service broke off its answer"), scope, receive, send)
            return
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})
        if reusable:
            gw.pool.release(str(sock), conn)
        else:
            upstream.close_quietly(conn)
        return
    await send(start)
    watcher = asyncio.create_task(_until_disconnect(receive, conn)) if sender is None else None
    complete = False
    try:
        async for piece in upstream.body_pieces(conn, head):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        complete = True
    except upstream.BrokeOff:
        pass  # the replica died mid-answer: the client's answer ends cut, as it would directly
    finally:
        if watcher is not None:
            watcher.cancel()
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    if complete and reusable:
        gw.pool.release(str(sock), conn)
    else:
        upstream.close_quietly(conn)


async def _until_disconnect(receive: Receive, conn: upstream.Conn) -> None:
    """A client that leaves mid-stream (server-sent events) closes the replica's connection, ending the copy."""
    while (await receive())["type"] != "http.disconnect":
        pass
    upstream.close_quietly(conn)
