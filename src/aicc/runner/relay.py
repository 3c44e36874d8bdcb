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

On Slurm (``spawn``) the batch step runs the runner as the project's uid, not root: the relay is then a
process of its own, forked by the runner, that binds its listener first and then joins the replica's user
namespace and, holding that namespace's capabilities as its owner, its network namespace (``setns`` of a user
namespace needs a single-threaded process: hence a process, not a thread). Its directory (``engine_socket``'s:
the project's, 0700, under the jobs directory but outside every run's view, so no job can replace what is in it)
holds either of two listeners, the site's choice (``AICC_SLURM_RELAY``):

- ``unix``: a Unix socket there. The server reaches it only where it shares the node's host (the test cluster,
  a one-host center).
- ``tcp``: a TCP port on the node (``AICC_SLURM_RELAY_BIND``, the port the kernel's choice), published as
  ``host:port`` in the file ``address`` there (written atomically, 0600: the server, root, reads it; the jobs
  directory is shared with the nodes, as the Slurm engine already needs for batch scripts, specs and logs).
  Anyone on the network may connect, so each connection must open with ``preamble(secret)``: a per-replica
  secret the server generated at launch into ``secret`` there (root's, group the project's, 0640: the runner
  reads it; no run's sandbox shows the directory, and neither the spec nor the environment carries it).
  It is compared in constant time; a wrong, short or late one (``PREAMBLE_DEADLINE_S``) is closed without a
  byte of the replica's reached. This is what a multi-host cluster needs.

A session on Slurm in TCP mode is reached the same way, except that the relay dials the Unix socket its
JupyterLab makes in its run directory on the node (``RunSpec.relay_target``) instead of a port inside its
namespace, which it then never joins. In Unix mode the proxy dials that socket itself.

When nothing answers on the port, the relay answers ``503`` itself, naming the port, so a health check
(and a client) learns why instead of meeting a closed connection. Standard library only (the shepherd's rule).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import hmac
import json
import os
import socket
import threading
import time
from pathlib import Path

from aicc.runner.relay_address import (
    PREAMBLE_DEADLINE_S,
    preamble,
    publish,
)

CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
NS_GET_USERNS = 0xB701
"""ioctl on a namespace's file: a new descriptor of the user namespace that owns it (Linux 4.9)."""
SOCKET_NAME = "service.sock"
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


def engine_socket(jobs_dir: Path, job_id: int, attempt: int) -> Path:
    """Where a replica on an engine whose step is not root (Slurm) has its relay's socket."""
    return jobs_dir / "relays" / f"{job_id}-{attempt}" / SOCKET_NAME


def forget_engine_relays(jobs_dir: Path, job_id: int) -> None:
    """Remove the relay directories of every attempt of a replica whose run ended (its secret and published
    address with them): a later attempt makes its own, and a secret outlives its replica otherwise."""
    import shutil

    root = jobs_dir / "relays"
    for attempt in root.glob(f"{job_id}-*") if root.is_dir() else ():
        if attempt.name.split("-", 1)[1].isdigit() and not attempt.is_symlink():
            shutil.rmtree(attempt, ignore_errors=True)


def _enter(pid: int) -> None:
    """Join ``pid``'s network namespace; first, when another user namespace owns it (an unprivileged
    bubblewrap's, which we own from outside), that user namespace, whose capabilities ``setns`` needs. The
    owner, not the process's own user namespace: bubblewrap may nest one more inside it, where we would hold
    no capability over the network namespace."""
    if _netns(pid) == _netns(os.getpid()):
        return
    libc = ctypes.CDLL(None, use_errno=True)

    def join(fd: int, flag: int, what: str) -> None:
        if libc.setns(fd, flag) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into the replica's {what} namespace: {os.strerror(err)}")

    net = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if os.geteuid() != 0:  # root (the local shepherd's thread) holds the capability everywhere already
            owner = fcntl.ioctl(net, NS_GET_USERNS)
            try:
                if os.fstat(owner).st_ino != os.stat("/proc/self/ns/user").st_ino:
                    join(owner, CLONE_NEWUSER, "user")
            finally:
                os.close(owner)
        join(net, CLONE_NEWNET, "network")
    finally:
        os.close(net)


def _refused(port: int | str, exc: BaseException) -> bytes:
    where = f"on port {port} inside the replica" if isinstance(port, int) else f"on the session's socket {port}"
    body = json.dumps({"type": "about:blank", "title": "Service Unavailable", "status": 503,
                       "detail": f"nothing answers {where} ({getattr(exc, 'strerror', None) or exc})"}).encode()
    return (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n"
            b"X-AICC-Relay: refused\r\nConnection: close\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\n\r\n" + body)


class _End(asyncio.Protocol):
    """One end of a relayed connection: what it receives is written to its peer as it comes (no coroutine
    per read: a protocol's callbacks cost a fraction of a stream's), with flow control both ways (a peer
    whose buffer is full pauses our reading) and half-closes passed on, so HTTP keep-alive works through."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _End | None = None
        self.held: list[bytes] = []
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def join(self, peer: _End) -> None:
        """Link the two ends; what arrived before the peer was there goes first."""
        self.peer, peer.peer = peer, self
        assert peer.transport is not None and self.transport is not None
        for data in self.held:
            peer.transport.write(data)
        for data in peer.held:
            self.transport.write(data)
        self.held.clear()
        peer.held.clear()
        if self.eof and peer.transport.can_write_eof():
            peer.transport.write_eof()
        self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None:
            peer.transport.write(data)
        else:
            self.held.append(data)

    def eof_received(self) -> bool:
        self.eof = True
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.transport.is_closing():
            if peer.transport.can_write_eof():
                peer.transport.write_eof()
            else:
                peer.transport.close()
        return True  # keep the other direction open until the peer ends it too

    def connection_lost(self, exc: Exception | None) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None:
            peer.transport.close()  # after writing what it holds

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


class _Client(_End):
    """The gateway's (or a health check's) connection: the replica's port is dialled when it arrives, or, with
    ``expected`` (TCP mode), once it presented that preamble; a wrong one, or none within
    ``PREAMBLE_DEADLINE_S``, closes it unbridged. ``port`` as a path: a Unix socket on this node to dial
    instead (a session's, which its server makes in its run directory)."""

    def __init__(self, port: int | str, expected: bytes | None = None) -> None:
        super().__init__()
        self.port = port
        self.expected = expected
        self.got = b""
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self.expected is None:
            self._admit()
        else:
            self.timer = asyncio.get_running_loop().call_later(PREAMBLE_DEADLINE_S, transport.close)

    def _admit(self) -> None:
        assert self.transport is not None
        self.transport.pause_reading()
        asyncio.get_running_loop().create_task(self._dial())

    def data_received(self, data: bytes) -> None:
        if self.expected is None:
            super().data_received(data)
            return
        self.got += data
        n = len(self.expected)
        if len(self.got) < n:
            return
        presented, rest, expected = self.got[:n], self.got[n:], self.expected
        self.got, self.expected = b"", None
        if self.timer is not None:
            self.timer.cancel()
        assert self.transport is not None
        if not hmac.compare_digest(presented, expected):
            self.transport.close()
            return
        if rest:
            self.held.append(rest)
        self._admit()

    def eof_received(self) -> bool:
        if self.expected is not None:  # ended before its secret: nothing to bridge
            return False
        return super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        super().connection_lost(exc)

    async def _dial(self) -> None:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        try:
            if isinstance(self.port, str):
                _, upstream = await loop.create_unix_connection(_End, self.port)
            else:
                _, upstream = await loop.create_connection(_End, "127.0.0.1", self.port)
        except OSError as exc:
            await self._refuse(exc)
            return
        if self.transport.is_closing():
            upstream.transport.close()  # type: ignore[union-attr]
            return
        self.join(upstream)

    async def _refuse(self, exc: OSError) -> None:
        """Nothing answers on the port: read the request's head first (a client still sending it would meet
        EPIPE), then answer 503 naming the port."""
        assert self.transport is not None
        self.transport.resume_reading()
        deadline = asyncio.get_running_loop().time() + 1.0
        while b"\r\n\r\n" not in b"".join(self.held) and not self.eof and not self.transport.is_closing():
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.01)
        if not self.transport.is_closing():
            self.transport.write(_refused(self.port, exc))
            self.transport.close()


async def _serve(path: Path, port: int | str, ready: threading.Event, bound: socket.socket | None = None,
                 expected: bytes | None = None) -> None:
    loop = asyncio.get_running_loop()
    if bound is None:
        path.unlink(missing_ok=True)
        server = await loop.create_unix_server(lambda: _Client(port), path=str(path), backlog=1024)
        os.chmod(path, 0o600)
    elif bound.family == socket.AF_UNIX:
        server = await loop.create_unix_server(lambda: _Client(port), sock=bound)
    else:
        server = await loop.create_server(lambda: _Client(port, expected), sock=bound)
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


def _tcp_listener(bind: str) -> tuple[socket.socket, str]:
    """A TCP listener on ``bind`` (empty: every address of the node) at a port of the kernel's choice, and the
    host the server should dial: the bind address, or the node's name when it is a wildcard."""
    host = bind or "0.0.0.0"  # noqa: S104  (the site chose every address; the secret guards each connection)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server((host, 0), family=family, backlog=1024)
    # Accepted connections inherit it (Linux). asyncio sets it itself only on sockets whose proto is TCP's, and
    # create_server's is 0: without it, an answer in two writes waited for a delayed ACK (~40 ms a request).
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    wildcard = host in ("0.0.0.0", "::")  # noqa: S104
    return listener, socket.gethostname() if wildcard else host


def spawn(path: Path, port: int | str, job_pid: int, children_of: object, *, bind: str | None = None,
          secret: str | None = None) -> int:
    """Run the relay for the replica ``job_pid`` in a child process (the runner's, on Slurm); returns its pid.
    Its listener is bound before the child leaves our namespaces: the Unix socket ``path``, or, with ``bind``
    and ``secret`` (TCP mode), a port on the node published beside ``path`` (``publish``). ``port`` as a path
    (a session's socket in its run directory): dialled there, no namespace joined. Errors go to ``relay.log``
    beside it."""
    expected = None
    if bind is not None:
        if not secret:
            raise OSError("a TCP relay needs the replica's secret")
        expected = preamble(secret)
        listener, host = _tcp_listener(bind)
        try:
            publish(path.parent, host, listener.getsockname()[1])
        except OSError:
            listener.close()
            raise
    else:
        path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        os.chmod(path, 0o600)
        listener.listen(1024)
    pid = os.fork()
    if pid:
        listener.close()
        return pid
    code = 0
    try:
        if isinstance(port, int):  # a port inside the replica's namespace; a session's socket is on our disk
            target = replica_netns_pid(job_pid, children_of)
            if target is None:
                raise RuntimeError("the replica ended before its network namespace could be found")
            _enter(target)
        listener.setblocking(False)
        asyncio.run(_serve(path, port, threading.Event(), listener, expected))
    except BaseException as exc:  # the child must never return into the runner's code
        with contextlib.suppress(OSError):
            (path.parent / "relay.log").write_text(f"relay failed: {exc}\n")
        code = 1
    os._exit(code)
