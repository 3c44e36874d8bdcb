"""HTTP/1.1 for the CLI's plain calls, on one kept-alive connection, with as little imported as can be.

``aicc submit`` and ``aicc jobs`` make one to three small JSON requests, and their start-up is the user's wait
(issue 25: <= 100 ms). httpx cost more to import than the rest of the command; even ``http.client`` pulls in
``email`` (to parse headers) and ``ssl``, about 20 ms on this machine's CPUs. For ``http://`` (the center on
this host or its network) :class:`Plain` speaks HTTP/1.1 itself over a socket: a request with Content-Length,
a response with Content-Length, chunked or read to the end. ``https://`` goes through ``http.client``
(:class:`Secure`), where the TLS handshake dwarfs any import.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from io import BufferedReader


class Disconnected(ConnectionError):
    """The server closed the connection before answering (a kept-alive one it had timed out): send again."""


class Answer:
    """Status, reason, the headers (lower-case names) and the body of one response."""

    __slots__ = ("content", "headers", "reason", "status", "will_close")

    def __init__(self, status: int, reason: str, headers: dict[str, str], content: bytes, will_close: bool) -> None:
        self.status, self.reason, self.headers, self.content = status, reason, headers, content
        self.will_close = will_close


class Connection(Protocol):
    def exchange(self, method: str, target: str, body: bytes | None, headers: dict[str, str]) -> Answer: ...

    def close(self) -> None: ...


MAX_HEADER_LINE = 65_536
MAX_HEADERS = 200


class Plain:
    """One HTTP/1.1 connection over TCP, kept alive between requests."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._sock: socket.socket | None = None
        self._reader: BufferedReader | None = None

    def exchange(self, method: str, target: str, body: bytes | None, headers: dict[str, str]) -> Answer:
        if self._sock is None:
            self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            self._reader = self._sock.makefile("rb")
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}", "Accept-Encoding: identity"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"Content-Length: {len(body or b'')}")
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        reader = self._reader
        assert reader is not None
        status_line = reader.readline(MAX_HEADER_LINE)
        if not status_line:
            raise Disconnected("the server closed the connection without answering")
        version, _, rest = status_line.decode("latin-1").rstrip("\r\n").partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or not code.isdigit():
            raise ConnectionError(f"not an HTTP answer: {status_line[:80]!r}")
        found: dict[str, str] = {}
        for _ in range(MAX_HEADERS):
            line = reader.readline(MAX_HEADER_LINE)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            found[name.strip().lower()] = value.strip()
        else:
            raise ConnectionError("too many headers in the answer")
        status = int(code)
        close = found.get("connection", "").lower() == "close" or version == "HTTP/1.0"
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            content = b""
        elif "chunked" in found.get("transfer-encoding", "").lower():
            content = self._chunked(reader)
        elif "content-length" in found:
            content = reader.read(int(found["content-length"]))
        else:
            content, close = reader.read(), True
        if close:
            self.close()
        return Answer(status, reason, found, content, close)

    @staticmethod
    def _chunked(reader: BufferedReader) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(reader.readline(MAX_HEADER_LINE).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while reader.readline(MAX_HEADER_LINE) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(reader.read(size))
            reader.readline(MAX_HEADER_LINE)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self._sock is not None:
            self._sock.close()
        self._sock = self._reader = None


class Secure:
    """HTTPS through ``http.client``, with :class:`Plain`'s interface."""

    def __init__(self, host: str, port: int | None, timeout: float) -> None:
        import http.client

        self._conn = http.client.HTTPSConnection(host, port, timeout=timeout)

    def exchange(self, method: str, target: str, body: bytes | None, headers: dict[str, str]) -> Answer:
        import http.client

        try:
            self._conn.request(method, target, body=body, headers=headers)
            resp = self._conn.getresponse()
            content = resp.read()
        except http.client.RemoteDisconnected as exc:
            raise Disconnected(str(exc)) from exc
        except http.client.HTTPException as exc:
            raise ConnectionError(str(exc)) from exc
        found = {k.lower(): v for k, v in resp.getheaders()}
        if resp.will_close:
            self._conn.close()
        return Answer(resp.status, resp.reason, found, content, resp.will_close)

    def close(self) -> None:
        self._conn.close()
