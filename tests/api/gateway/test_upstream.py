"""The gateway's HTTP/1.1 client to replica sockets: framing read right, connections kept alive and replaced."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from aicc.api.gateway import upstream


@pytest.mark.parametrize(("raw", "method", "length", "chunked", "keep_alive"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5", "GET", 5, False, True),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked", "GET", None, True, True),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close", "GET", 5, False, False),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5", "HEAD", 0, False, True),
    (b"HTTP/1.1 204 No Content", "DELETE", 0, False, True),
    (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain", "GET", None, False, False),  # until close
    (b"HTTP/1.0 200 OK\r\nContent-Length: 2", "GET", 2, False, False),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive", "GET", 2, False, True),
])
def test_a_response_head_says_how_its_body_ends_and_whether_the_connection_stays(
        raw: bytes, method: str, length: int | None, chunked: bool, keep_alive: bool) -> None:
    head = upstream.parse_head(raw, method)
    assert (head.length, head.chunked, head.keep_alive) == (length, chunked, keep_alive)


def test_a_head_that_is_not_http_breaks_off() -> None:
    with pytest.raises(upstream.BrokeOff):
        upstream.parse_head(b"SSH-2.0-OpenSSH", "GET")


async def _server(path: Path, answers: list[bytes], connections: list[int],
                  close_after: bool = False) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                for part in answers:
                    writer.write(part)
                    await writer.drain()
                    await asyncio.sleep(0.01)
                if close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionResetError):
            pass
        writer.close()

    return await asyncio.start_unix_server(handle, path=str(path))


async def _get(pool: upstream.Pool, path: Path) -> tuple[int, bytes, upstream.Conn, upstream.Head]:
    conn = await pool.acquire(str(path))
    conn.writer.write(upstream.request_head("GET", "/x", [("host", "run")], -1))
    await conn.writer.drain()
    head = await upstream.read_head(conn, "GET")
    body = b"".join([piece async for piece in upstream.body_pieces(conn, head)])
    return head.status, body, conn, head


def test_a_chunked_answer_is_dechunked_and_the_connection_reused(tmp_path: Path) -> None:
    sock = tmp_path / "s.sock"
    answer = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"5\r\nhello\r\n", b"6;ext=1\r\n world\r\n",
              b"0\r\nX-Trailer: t\r\n\r\n"]

    async def main() -> None:
        connections: list[int] = []
        server = await _server(sock, answer, connections)
        pool = upstream.Pool()
        for _ in range(3):
            status, body, conn, _ = await _get(pool, sock)
            assert (status, body) == (200, b"hello world")
            pool.release(str(sock), conn)
        assert len(connections) == 1, "each request opened a new connection: no keep-alive"
        server.close()

    asyncio.run(main())


def test_a_pooled_connection_the_replica_closed_is_replaced_not_used(tmp_path: Path) -> None:
    sock = tmp_path / "s.sock"

    async def main() -> None:
        connections: list[int] = []
        server = await _server(sock, [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"], connections, close_after=True)
        pool = upstream.Pool()
        _, body, conn, _ = await _get(pool, sock)
        pool.release(str(sock), conn)
        await asyncio.sleep(0.05)  # the server's close reaches us
        _, body2, conn2, _ = await _get(pool, sock)
        assert body == body2 == b"ok" and not conn2.reused and len(connections) == 2
        server.close()

    asyncio.run(main())


def test_nothing_listening_is_refused_and_an_answer_cut_short_breaks_off(tmp_path: Path) -> None:
    async def main() -> None:
        with pytest.raises(upstream.Refused):
            await upstream.Pool().acquire(str(tmp_path / "none.sock"))
        sock = tmp_path / "s.sock"
        server = await _server(sock, [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"], [], close_after=True)
        with pytest.raises(upstream.BrokeOff):
            await _get(upstream.Pool(), sock)
        server.close()

    asyncio.run(main())
