"""Refuse oversized request bodies before anything reads them into memory."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    """Pure ASGI middleware.

    With a Content-Length the check is immediate. A chunked body (no length) is
    read up to the limit first and replayed to the app; past the limit the
    client gets 413 and the app never sees the request.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, streamed: re.Pattern[str] | None = None,
                 passthrough: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.streamed = streamed
        """Paths whose handlers stream the body to disk and bound it themselves (workspace upload parts)."""
        self.passthrough = passthrough
        """Path prefixes whose bodies stream on to a run (sessions under /s/, services under /svc/): not held
        back or capped here."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or (self.streamed is not None and self.streamed.match(path)) or (
                self.passthrough and path.startswith(self.passthrough)):
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        if length is not None:
            try:
                too_big = int(length) > self.max_bytes
            except ValueError:
                too_big = True
            if too_big:
                await self._reject(send)
                return
            await self.app(scope, receive, send)
            return
        if scope.get("method") in ("GET", "HEAD", "DELETE", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                await self._reject(send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Send) -> None:
        body: dict[str, Any] = {
            "type": "https://aicc.dev/problems/payload-too-large",
            "title": "Payload too large",
            "status": 413,
            "detail": f"request bodies are limited to {self.max_bytes} bytes",
        }
        raw = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(raw)).encode())]})
        await send({"type": "http.response.body", "body": raw})
