"""A lean HTTP/1.1 client to replicas' relays: pooled keep-alive connections, bodies streamed both ways.

Why not httpx (which ``aicc.proxy.forward`` uses for sessions): on these cores its request and response
machinery cost about a millisecond of CPU a request, more than everything else the gateway does together. A
replica speaks plain HTTP/1.1 through its relay, so the framing we need is small: a request head, the body as
it comes (``content-length`` as sent, else chunked), and a response read by its own framing (no body for
``HEAD``/204/304, ``content-length``, chunked, or until close). Nothing is buffered on the way down: each piece
read from the replica is handed on at once, so server-sent events and chunked answers stream.

A connection goes back to its pool only when its response was read to the end and nobody said ``close``.
A relay is a Unix socket (the local engine, Slurm in Unix mode) or a TCP address on a node (Slurm in TCP mode),
where a new connection first sends the replica's secret (``aicc.runner.relay_address.preamble``); pooled ones are
already past it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aicc.runner.relay_address import TcpAddress
from aicc.services.serving.replicas import Target

HEAD_LIMIT = 64 * 1024
"""The most a response's status line and headers may take (a replica sending more is broken: 502)."""
READ_CHUNK = 64 * 1024
MAX_IDLE = 32
"""Idle connections kept per replica socket (a burst beyond opens more, which are closed after)."""
NO_BODY_STATUS = frozenset({204, 304})
CONNECT_TIMEOUT_S = 2.0
"""A TCP relay whose node does not answer (gone from the network) is refused after this, not waited for."""


class Refused(Exception):
    """Nothing listens on the socket (the replica just died or is not up): no byte of the request was sent."""


class BrokeOff(Exception):
    """The replica closed or reset the connection before a whole response head arrived."""


@dataclass(slots=True)
class Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    reused: bool = False

    def usable(self) -> bool:
        return not (self.reader.at_eof() or self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()


@dataclass(slots=True)
class Head:
    status: int
    headers: list[tuple[bytes, bytes]]
    """As received, names lower-cased."""
    length: int | None
    chunked: bool
    keep_alive: bool


@dataclass
class Pool:
    """Idle keep-alive connections per replica relay, by ``str(target)`` (one pool per event loop: the
    gateway's)."""

    idle: dict[str, list[Conn]] = field(default_factory=dict)
    loop: asyncio.AbstractEventLoop | None = None

    async def acquire(self, target: Target) -> Conn:
        loop = asyncio.get_running_loop()
        if loop is not self.loop:  # a new event loop (tests run several apps): the old one's connections are dead
            self.idle, self.loop = {}, loop
        held = self.idle.get(str(target))
        while held:
            conn = held.pop()
            if conn.usable():
                conn.reused = True
                return conn
            conn.close()
        if isinstance(target, TcpAddress):
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    reader, writer = await asyncio.open_connection(target.host, target.port, limit=HEAD_LIMIT)
            except (OSError, TimeoutError) as exc:  # refused, unreachable, no such host, no answer
                raise Refused(str(exc) or type(exc).__name__) from exc
            writer.write(target.preamble)
            return Conn(reader, writer)
        try:
            reader, writer = await asyncio.open_unix_connection(str(target), limit=HEAD_LIMIT)
        except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError) as exc:
            raise Refused(str(exc)) from exc
        return Conn(reader, writer)

    def release(self, path: str, conn: Conn) -> None:
        held = self.idle.setdefault(path, [])
        if len(held) >= MAX_IDLE or not conn.usable():
            conn.close()
            return
        held.append(conn)

    def forget(self, path: str) -> None:
        """Close every idle connection to a socket (its replica left the rotation)."""
        for conn in self.idle.pop(path, []):
            conn.close()


async def dial(target: TcpAddress) -> socket.socket:
    """A connected socket to a TCP relay, past its secret (for a websocket, which the pool does not carry)."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(CONNECT_TIMEOUT_S):
        family, kind, proto, _, addr = (await loop.getaddrinfo(target.host, target.port,
                                                               type=socket.SOCK_STREAM))[0]
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, addr)
            await loop.sock_sendall(sock, target.preamble)
        except BaseException:
            sock.close()
            raise
    return sock


def request_head(method: str, target: str, headers: list[tuple[str, str]], length: int | None) -> bytes:
    """The request line and headers; ``length`` None means a chunked body follows, -1 means no body."""
    parts = [f"{method} {target} HTTP/1.1\r\n"]
    parts.extend(f"{k}: {v}\r\n" for k, v in headers)
    if length is None:
        parts.append("transfer-encoding: chunked\r\n")
    elif length >= 0:
        parts.append(f"content-length: {length}\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("latin-1")


def parse_head(raw: bytes, method: str) -> Head:
    """A response head (without its blank line) into what the body's framing needs."""
    lines = raw.split(b"\r\n")
    try:
        version, code = lines[0].split(b" ", 2)[:2]
        status = int(code)
    except ValueError as exc:
        raise BrokeOff(f"not an HTTP status line: {lines[0][:80]!r}") from exc
    headers: list[tuple[bytes, bytes]] = []
    length: int | None = None
    chunked = False
    keep_alive = version == b"HTTP/1.1"
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        name, value = name.strip().lower(), value.strip()
        headers.append((name, value))
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError as exc:
                raise BrokeOff("a content-length that is not a number") from exc
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            tokens = {t.strip() for t in value.lower().split(b",")}
            keep_alive = b"keep-alive" in tokens if version != b"HTTP/1.1" else b"close" not in tokens
    if chunked:
        length = None
    if method == "HEAD" or status in NO_BODY_STATUS or 100 <= status < 200:
        length, chunked = 0, False
    elif length is None and not chunked:
        keep_alive = False  # the body ends when the connection does
    return Head(status, headers, length, chunked, keep_alive)


async def read_head(conn: Conn, method: str) -> Head:
    """The next final response head (1xx interim answers are skipped)."""
    while True:
        try:
            raw = await conn.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            raise BrokeOff("the replica closed the connection before answering") from exc
        except asyncio.LimitOverrunError as exc:
            raise BrokeOff("the replica's response head is too large") from exc
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise BrokeOff(str(exc)) from exc
        head = parse_head(raw[:-4], method)
        if not 100 <= head.status < 200:
            return head


async def body_pieces(conn: Conn, head: Head) -> AsyncIterator[bytes]:
    """The response body as it arrives, de-chunked (the downstream server frames it anew).

    Raises ``BrokeOff`` when the replica ends before the body does: the caller then cuts the client's answer.
    """
    reader = conn.reader
    try:
        if head.chunked:
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers: dropped
                        pass
                    return
                left = size
                while left:
                    piece = await reader.read(min(left, READ_CHUNK))
                    if not piece:
                        raise BrokeOff("the replica ended inside a chunk")
                    left -= len(piece)
                    yield piece
                await reader.readexactly(2)
        elif head.length is not None:
            left = head.length
            while left:
                piece = await reader.read(min(left, READ_CHUNK))
                if not piece:
                    raise BrokeOff("the replica ended before its content-length")
                left -= len(piece)
                yield piece
        else:
            while piece := await reader.read(READ_CHUNK):
                yield piece
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, ConnectionResetError) as exc:
        raise BrokeOff(str(exc)) from exc


async def send_body(conn: Conn, pieces: AsyncIterator[bytes], chunked: bool) -> None:
    """Stream a request body up (chunk-encoded when its length was not known)."""
    writer = conn.writer
    async for piece in pieces:
        if not piece:
            continue
        if chunked:
            writer.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
        else:
            writer.write(piece)
        await writer.drain()
    if chunked:
        writer.write(b"0\r\n\r\n")
        await writer.drain()


def close_quietly(conn: Conn) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        conn.close()
