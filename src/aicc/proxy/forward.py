"""The one place that forwards bytes from a person to a run listening on a Unix socket.

Sessions (JupyterLab, terminals) and services (model servers) listen on a Unix socket in
their run directory; the server's routes authorize the caller, then hand the request here.
These functions never decide who may pass: they only carry bytes, and take care that

- bodies stream both ways unbuffered (a large upload, a chunked or server-sent-events
  response reach the other end as they come, not after the last byte);
- one pooled HTTP/1.1 client per socket keeps connections alive between requests;
- hop-by-hop headers stay on their hop, and our own credentials (the ``Authorization``
  header, the ``aicc_*`` cookies) never reach the run, nor may the run set an ``aicc_*``
  cookie in the person's browser;
- an upstream that is not listening answers 503, one that fails or times out answers 502,
  both as problem+json, so a dead session never hangs a request.

A websocket is accepted only once the upstream one is open (its chosen subprotocol is the
one the browser gets), and close codes travel in both directions. The ``Origin`` header is
not passed upstream: the caller checks it (``same_origin``) before forwarding, because the
run cannot tell our host from an attacker's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect, unix_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from aicc.runner.relay_address import TcpAddress

log = logging.getLogger("aicc.proxy")

CONNECT_TIMEOUT_S = 5.0
"""How long to wait for the run to accept a connection (it is local: a few ms when alive)."""
RESPONSE_TIMEOUT_S = 300.0
"""How long to wait for the response's status line and headers. Generous: a model server may
think for minutes before its first byte; the body itself has no timeout (server-sent events)."""

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "proxy-connection",
})
_NOT_UPSTREAM = HOP_BY_HOP | {"authorization", "content-length"}
_NOT_UPSTREAM_WS = _NOT_UPSTREAM | {"host", "origin", "cookie"} | {
    "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol",
    "sec-websocket-accept",
}
_NOT_DOWNSTREAM = HOP_BY_HOP | {"content-length"}
OUR_COOKIE_PREFIX = "aicc"
"""Cookies of AICC itself (``aicc_session``, ``aicc_presession``): stripped going up, refused coming down."""

_clients: dict[str, tuple[asyncio.AbstractEventLoop, httpx.AsyncClient]] = {}


def problem(status: int, title: str, detail: str) -> JSONResponse:
    body = {"type": "https://aicc.dev/problems/" + title.lower().replace(" ", "-"), "title": title,
            "status": status, "detail": detail}
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


class _RelayBackend(httpcore.AsyncNetworkBackend):
    """Connections to a run's TCP relay on its node (a session on another Slurm host): each new one presents
    the run's secret first (``aicc.runner.relay_address.preamble``), then speaks plain HTTP through it."""

    def __init__(self, target: TcpAddress) -> None:
        self.target, self.inner = target, httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        stream = await self.inner.connect_tcp(self.target.host, self.target.port, timeout=timeout,
                                              socket_options=socket_options)
        await stream.write(self.target.preamble, timeout=timeout)
        return stream

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("a run behind a TCP relay is not on a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def relay_transport(target: TcpAddress, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """httpx's transport with its connection pool on ``_RelayBackend``: httpx takes no network backend of its
    own, and the pool is the one part that differs (everything else, streaming and errors, stays httpx's)."""
    transport = httpx.AsyncHTTPTransport(retries=0, limits=limits)
    transport._pool = httpcore.AsyncConnectionPool(  # the private pool: see the docstring
        max_connections=limits.max_connections, max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry, retries=0, network_backend=_RelayBackend(target))
    return transport


def _client(socket_path: Path | TcpAddress) -> httpx.AsyncClient:
    """The pooled client for this socket or relay, made on first use (one per event loop: tests run several)."""
    key = str(socket_path)
    loop = asyncio.get_running_loop()
    held = _clients.get(key)
    if held is not None and held[0] is loop and not held[1].is_closed:
        return held[1]
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
    transport = relay_transport(socket_path, limits) if isinstance(socket_path, TcpAddress) else \
        httpx.AsyncHTTPTransport(uds=key, retries=0, limits=limits)
    timeout = httpx.Timeout(connect=CONNECT_TIMEOUT_S, read=None, write=60.0, pool=CONNECT_TIMEOUT_S)
    client = httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False)
    _clients[key] = (loop, client)
    return client


async def release(socket_path: Path | TcpAddress) -> None:
    """Close the pooled connections to a run that ended (its socket is gone for good)."""
    held = _clients.pop(str(socket_path), None)
    if held is not None and held[0] is asyncio.get_running_loop():
        await held[1].aclose()


async def release_all() -> None:
    """Close every pooled client (the server's shutdown)."""
    for key in list(_clients):
        await release(Path(key))


def _without_our_cookies(value: str) -> str:
    kept = [part.strip() for part in value.split(";")
            if part.strip() and not part.strip().lower().startswith(OUR_COOKIE_PREFIX)]
    return "; ".join(kept)


def _named_by_connection(raw: list[tuple[bytes, bytes]]) -> set[str]:
    """Headers the sender listed in its ``Connection`` header are hop-by-hop too (RFC 9110 7.6.1)."""
    named: set[str] = set()
    for k, v in raw:
        if k.lower() == b"connection":
            named.update(t.strip().lower() for t in v.decode("latin-1").split(","))
    return named


def upstream_headers(raw: list[tuple[bytes, bytes]], extra: Mapping[str, str] | None, *,
                     websocket: bool = False) -> list[tuple[str, str]]:
    """The request headers the run may see, then ``extra`` (set by us: they replace any the person sent)."""
    drop = (_NOT_UPSTREAM_WS if websocket else _NOT_UPSTREAM) | _named_by_connection(raw)
    drop |= {k.lower() for k in (extra or {})}
    out: list[tuple[str, str]] = []
    for k_raw, v_raw in raw:
        k, v = k_raw.decode("latin-1").lower(), v_raw.decode("latin-1")
        if k in drop:
            continue
        if k == "cookie":
            v = _without_our_cookies(v)
            if not v:
                continue
        out.append((k, v))
    out.extend((k.lower(), v) for k, v in (extra or {}).items())
    return out


def _downstream_headers(response: httpx.Response) -> list[tuple[bytes, bytes]]:
    drop = _NOT_DOWNSTREAM | _named_by_connection(list(response.headers.raw))
    out: list[tuple[bytes, bytes]] = []
    for k_raw, v_raw in response.headers.raw:
        k = k_raw.decode("latin-1").lower()
        if k in drop:
            continue
        if k == "set-cookie" and v_raw.decode("latin-1").strip().lower().startswith(OUR_COOKIE_PREFIX):
            log.warning("a run tried to set an AICC cookie; dropped")
            continue
        out.append((k.encode("latin-1"), v_raw))
    return out


def _target(request_query: str, upstream_path: str) -> str:
    path = upstream_path if upstream_path.startswith("/") else "/" + upstream_path
    if request_query and "?" not in path:
        path += "?" + request_query
    return path


async def forward_http(request: Request, socket_path: Path | TcpAddress, upstream_path: str, *,
                       headers: Mapping[str, str] | None = None,
                       timeout: float = RESPONSE_TIMEOUT_S) -> Response:
    """Forward one HTTP request to the run on ``socket_path`` (or behind its TCP relay) and stream its answer back.

    ``upstream_path`` is the path on the run (the request's query string is appended unless
    it carries its own); ``headers`` are added (and win) after ours are stripped.
    """
    client = _client(socket_path)
    has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
    body: AsyncIterator[bytes] | None = request.stream() if has_body else None
    hdrs = upstream_headers(list(request.scope["headers"]), headers)
    if has_body and "content-length" in request.headers and not (headers and "content-length" in
                                                                 {k.lower() for k in headers}):
        hdrs.append(("content-length", request.headers["content-length"]))
    url = httpx.URL("http://run" + _target(request.url.query, upstream_path))
    upstream_request = client.build_request(request.method, url, headers=hdrs, content=body)
    try:
        upstream = await asyncio.wait_for(client.send(upstream_request, stream=True), timeout)
    except (httpx.ConnectError, FileNotFoundError, ConnectionRefusedError) as exc:
        log.info("upstream %s not listening: %s", socket_path, exc)
        return problem(503, "Service unavailable", "the session or service is not listening (yet); retry shortly")
    except (TimeoutError, httpx.TimeoutException):
        return problem(502, "Bad gateway", f"no answer from the session or service within {timeout:g} s")
    except httpx.HTTPError as exc:
        log.info("upstream %s failed: %s", socket_path, exc)
        return problem(502, "Bad gateway", "the session or service broke off the connection")

    async def body_down() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        except httpx.HTTPError as exc:  # the run died mid-answer: end the stream, the client sees it cut
            log.info("upstream %s broke off mid-response: %s", socket_path, exc)
        finally:
            await upstream.aclose()

    response = StreamingResponse(body_down(), status_code=upstream.status_code,
                                 background=BackgroundTask(upstream.aclose))
    response.raw_headers = _downstream_headers(upstream)
    if "content-length" in upstream.headers:  # raw bytes go down, so the run's length is exact: not chunked
        response.raw_headers.append((b"content-length", upstream.headers["content-length"].encode()))
    return response


def same_origin(websocket: WebSocket) -> bool:
    """Whether a browser's websocket comes from our own pages (no Origin: not a browser, allowed).

    Call it before ``forward_websocket``: the run cannot check this itself, since it never
    sees our host name, and a foreign page must not drive a person's session with their cookie.
    """
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    host = websocket.headers.get("host", "")
    return urlsplit(origin).netloc.lower() == host.lower()


def _sendable_close(code: int | None) -> int:
    """1005/1006/1015 are reserved for 'none received'/'abnormal': never sent on the wire."""
    if code is None or code in (1005, 1006, 1015):
        return 1011 if code == 1006 else 1000
    return code


async def forward_websocket(websocket: WebSocket, socket_path: Path | str, upstream_path: str, *,
                            headers: Mapping[str, str] | None = None, sock: socket.socket | None = None) -> None:
    """Join the person's websocket to one opened on the run's socket until either end closes (``sock``: a
    connection to it made already, e.g. a service's TCP relay past its secret; ``socket_path`` then names it)."""
    scope_query = websocket.url.query
    uri = "ws://run" + _target(scope_query, upstream_path)
    protocols = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    hdrs = upstream_headers(list(websocket.scope["headers"]), headers, websocket=True)
    try:
        options = {"additional_headers": hdrs, "subprotocols": protocols or None, "open_timeout": CONNECT_TIMEOUT_S,
                   "ping_interval": None, "max_size": None, "compression": None, "user_agent_header": None,
                   "proxy": None}
        if sock is None:
            upstream = await unix_connect(str(socket_path), uri, **options)
        else:
            upstream = await connect(uri, sock=sock, **options)  # type: ignore[arg-type]
    except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
        log.info("upstream websocket %s not reachable: %s", socket_path, exc)
        status = 503 if isinstance(exc, OSError) else 502
        with contextlib.suppress(RuntimeError):
            await websocket.send_denial_response(
                problem(status, "Service unavailable" if status == 503 else "Bad gateway",
                         "the session or service did not accept the websocket"))
            return
        await websocket.close(code=1011)
        return
    await websocket.accept(subprotocol=upstream.subprotocol)
    await _pump(websocket, upstream)


async def _pump(websocket: WebSocket, upstream: ClientConnection) -> None:
    async def up() -> None:
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    await upstream.close(_sendable_close(message.get("code")), message.get("reason") or "")
                    return
                if message.get("bytes") is not None:
                    await upstream.send(message["bytes"])
                elif message.get("text") is not None:
                    await upstream.send(message["text"])
        except ConnectionClosed:
            return

    async def down() -> None:
        try:
            async for data in upstream:
                if isinstance(data, bytes):
                    await websocket.send_bytes(data)
                else:
                    await websocket.send_text(data)
        except ConnectionClosed:
            pass
        except (WebSocketDisconnect, RuntimeError):  # the person left while we were sending
            return
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close(_sendable_close(upstream.close_code), upstream.close_reason or None)

    up_task, down_task = asyncio.create_task(up()), asyncio.create_task(down())
    try:
        _, pending = await asyncio.wait({up_task, down_task}, return_when=asyncio.FIRST_COMPLETED)
        if down_task in pending:  # the person closed: give the run a moment to finish its closing handshake
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(down_task), 2)
        for task in (up_task, down_task):
            task.cancel()
    finally:
        await upstream.close()
        for outcome in await asyncio.gather(up_task, down_task, return_exceptions=True):
            if isinstance(outcome, Exception):  # a bug here must not pass silently
                log.error("websocket forwarding to %s failed", upstream.id, exc_info=outcome)
