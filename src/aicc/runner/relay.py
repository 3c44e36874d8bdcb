"""The bridge into a service replica: a Unix socket in the run's directory, relayed to its port inside.

A replica's server listens on ``--port`` on the loopback of its *own* network namespace (bubblewrap's
``--unshare-all``): no port on the host, so replicas never collide and nothing is exposed by accident. The
shepherd runs this relay in a thread that has entered that namespace (``setns``; the shepherd is root): it
accepts on ``<run dir>/service.sock`` (mode 0600 in a 0700 directory: only the server reaches it, never a
job) and connects to ``127.0.0.1:<port>`` in the replica's namespace for each connection, copying bytes both
ways until each side closes. The gateway and the health checks are its only clients.

Why a relay outside the sandbox and not ``socat`` or a helper inside: an image need not contain socat or
Python, and a helper inside would run as the job, which could replace it. A thread that enters only the
network namespace keeps the host's mounts, so it can bind in the run directory the job cannot see.

When nothing answers on the port, the relay answers ``503`` itself, naming the port, so a health check
(and a client) learns why instead of meeting a closed connection. Standard library only (the shepherd's rule).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import threading
import time
from pathlib import Path

CLONE_NEWNET = 0x40000000
SOCKET_NAME = "service.sock"
CHUNK = 256 * 1024


def _netns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def replica_netns_pid(job_pid: int, children_of: object, timeout_s: float = 10.0) -> int | None:
    """The first process under ``job_pid`` (bubblewrap's monitor) in another network namespace than ours;
    ``job_pid`` itself when it shares ours (a run without isolation); None when it never appeared."""
    own = _netns(os.getpid())
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ns = _netns(job_pid)
        if ns is None:
            return None
        for child in sorted(children_of(job_pid)):  # type: ignore[operator]
            if _netns(child) not in (None, own):
                return int(child)
        if ns != own:
            return job_pid
        time.sleep(0.01)
    return job_pid if _netns(job_pid) == own else None


def _enter(pid: int) -> None:
    if _netns(pid) == _netns(os.getpid()):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into the replica's network namespace: {os.strerror(err)}")
    finally:
        os.close(fd)


def _refused(port: int, exc: BaseException) -> bytes:
    body = json.dumps({"type": "about:blank", "title": "Service Unavailable", "status": 503,
                       "detail": f"nothing answers on port {port} inside the replica "
                                 f"({getattr(exc, 'strerror', None) or exc})"}).encode()
    return (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n"
            b"X-AICC-Relay: refused\r\nConnection: close\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\n\r\n" + body)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (OSError, RuntimeError):
        writer.close()


async def _serve(path: Path, port: int, ready: threading.Event) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as exc:
            with contextlib.suppress(OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                                     asyncio.LimitOverrunError):  # read the request's head first: a client
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 1.0)  # still sending it would meet EPIPE
            writer.write(_refused(port, exc))
            with contextlib.suppress(OSError):
                await writer.drain()
            writer.close()
            return
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()
            writer.close()

    path.unlink(missing_ok=True)
    server = await asyncio.start_unix_server(handle, path=str(path), backlog=1024)
    os.chmod(path, 0o600)
    ready.set()
    async with server:
        await server.serve_forever()


def start(run_dir: Path, port: int, job_pid: int, children_of: object) -> Path:
    """Run the relay for the replica ``job_pid`` in a daemon thread (it ends with the shepherd); returns the
    socket's path. Errors go to ``<run dir>/relay.log``: a replica without its relay is found unhealthy by
    its checks, with the socket missing as the reason."""
    path = run_dir / SOCKET_NAME
    ready = threading.Event()

    def main() -> None:
        try:
            pid = replica_netns_pid(job_pid, children_of)
            if pid is None:
                raise RuntimeError("the replica ended before its network namespace could be found")
            _enter(pid)
            asyncio.run(_serve(path, port, ready))
        except BaseException as exc:
            (run_dir / "relay.log").write_text(f"relay failed: {exc}\n")
            ready.set()

    threading.Thread(target=main, name="aicc-relay", daemon=True).start()
    ready.wait(15)
    return path
