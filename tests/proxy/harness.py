"""A real run on a Unix socket and a real front server that forwards to it, both uvicorn, in one event loop.

The run (``upstream``) records what reached it, so tests can prove what the proxy passed and
what it withheld; the front server is what a person talks to.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from aicc.proxy import forward


@dataclass
class Seen:
    """What the run observed."""

    sse_release: asyncio.Event = field(default_factory=asyncio.Event)
    ws_close_codes: list[int] = field(default_factory=list)
    ws_closed: asyncio.Event = field(default_factory=asyncio.Event)
    ws_headers: dict[str, str] = field(default_factory=dict)


def upstream_app(seen: Seen) -> Starlette:
    async def echo(request: Request) -> Response:
        body = await request.body()
        response = JSONResponse({"method": request.method, "path": request.url.path, "query": request.url.query,
                                 "headers": dict(request.headers), "body": body.decode(errors="replace")})
        response.set_cookie("aicc_session", "planted-by-run")
        response.set_cookie("_xsrf", "run-cookie")
        response.headers["connection"] = "x-private"
        response.headers["x-private"] = "hop"
        return response

    async def upload(request: Request) -> Response:
        digest, size, chunks = hashlib.sha256(), 0, 0
        async for chunk in request.stream():
            digest.update(chunk)
            size += len(chunk)
            chunks += 1
        return JSONResponse({"sha256": digest.hexdigest(), "size": size,
                             "transfer_encoding": request.headers.get("transfer-encoding")})

    async def sse(_: Request) -> Response:
        async def events() -> AsyncIterator[bytes]:
            yield b"data: one\n\n"
            await seen.sse_release.wait()
            yield b"data: two\n\n"
        return StreamingResponse(events(), media_type="text/event-stream")

    async def slow(_: Request) -> Response:
        await asyncio.sleep(30)
        return Response("late")

    async def ws(websocket: WebSocket) -> None:
        seen.ws_headers.update(dict(websocket.headers))
        offered = websocket.headers.get("sec-websocket-protocol")
        await websocket.accept(subprotocol=offered.split(",")[0].strip() if offered else None)
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    seen.ws_close_codes.append(message.get("code", 1000))
                    seen.ws_closed.set()
                    return
                if message.get("text") == "close-4001":
                    await websocket.close(4001, "bye")
                    return
                if message.get("text") is not None:
                    await websocket.send_text("echo:" + message["text"])
                else:
                    await websocket.send_bytes(b"echo:" + message["bytes"])
        except WebSocketDisconnect as exc:
            seen.ws_close_codes.append(exc.code)
            seen.ws_closed.set()

    return Starlette(routes=[Route("/echo", echo, methods=["GET", "POST", "PUT"]), Route("/upload", upload,
                             methods=["POST"]), Route("/sse", sse), Route("/slow", slow), WebSocketRoute("/ws", ws)])


def front_app(sock: Path) -> Starlette:
    async def http(request: Request) -> Response:
        timeout = float(request.headers.get("x-test-timeout", forward.RESPONSE_TIMEOUT_S))
        return await forward.forward_http(request, sock, "/" + request.path_params["rest"],
                                          headers={"x-run-token": "from-aicc"}, timeout=timeout)

    async def ws(websocket: WebSocket) -> None:
        await forward.forward_websocket(websocket, sock, "/" + websocket.path_params["rest"],
                                        headers={"x-run-token": "from-aicc"})

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
    return Starlette(routes=[Route("/p/{rest:path}", http, methods=methods), WebSocketRoute("/p/{rest:path}", ws)])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Servers:
    base: str
    ws_base: str
    sock: Path
    seen: Seen
    upstream: uvicorn.Server


@contextlib.asynccontextmanager
async def servers(*, start_upstream: bool = True) -> AsyncIterator[Servers]:
    """Both servers up (the run optional: a run that is not listening), torn down afterwards."""
    short = Path(tempfile.mkdtemp(prefix="aicc-px-"))  # a Unix socket path must stay under 108 bytes
    sock = short / "run.sock"
    seen = Seen()
    up = uvicorn.Server(uvicorn.Config(upstream_app(seen), uds=str(sock), log_level="warning", lifespan="off"))
    port = _free_port()
    front = uvicorn.Server(uvicorn.Config(front_app(sock), host="127.0.0.1", port=port, log_level="warning",
                                          lifespan="off"))
    tasks: list[asyncio.Task[Any]] = []
    try:
        if start_upstream:
            tasks.append(asyncio.create_task(up.serve()))
        tasks.append(asyncio.create_task(front.serve()))
        for _ in range(200):
            if front.started and (up.started or not start_upstream):
                break
            await asyncio.sleep(0.02)
        yield Servers(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", sock, seen, up)
    finally:
        await forward.release(sock)
        up.should_exit = front.should_exit = True
        for task in tasks:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(task, 5)
        shutil.rmtree(short, ignore_errors=True)
