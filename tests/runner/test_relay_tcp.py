"""The relay's TCP mode in-process: it publishes where it listens, bridges a connection that presents the
replica's secret, and closes one without it (or with a wrong one) without a byte of the replica's, promptly."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aicc.runner import relay, relay_address
from aicc.runner.launch import children_of
from aicc.services.serving.replicas import address, probe

SECRET = relay_address.new_secret()


HELLO = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", 8000), H).serve_forever()
"""


@pytest.fixture
def tcp_relay(tmp_path: Path) -> Iterator[relay_address.TcpAddress]:
    """A replica (an HTTP server on port 8000 of its own network namespace's loopback) and its relay in TCP
    mode on the host's 127.0.0.1, as the runner starts it on a Slurm node."""
    directory = tmp_path / "relays" / "7-1"
    directory.mkdir(parents=True)
    (directory / relay_address.SECRET_NAME).write_text(SECRET)
    job = subprocess.Popen(["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" -c "$1"', sys.executable,
                            HELLO])
    pid = relay.spawn(directory / relay.SOCKET_NAME, 8000, job.pid, children_of,
                      bind="127.0.0.1", secret=SECRET)
    try:
        published = relay_address.published(directory)
        assert published is not None
        deadline = time.monotonic() + 10
        while probe(published, "/", 8000) is not None and time.monotonic() < deadline:
            time.sleep(0.05)  # the server inside starting
        yield published
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        job.kill()
        job.wait()


def _exchange(addr: relay_address.TcpAddress, first: bytes, timeout: float = 5.0, path: bytes = b"/") -> bytes:
    """A raw connection to a TCP relay: ``first`` (a preamble, or none), one request, all it answers."""
    with socket.create_connection((addr.host, addr.port), timeout=timeout) as conn:
        conn.sendall(first + b"GET " + path + b" HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n")
        out = b""
        while chunk := conn.recv(4096):
            out += chunk
        return out


def test_a_tcp_relay_publishes_its_address_atomically_and_bridges_only_the_secret_holder(
        tcp_relay: relay_address.TcpAddress, tmp_path: Path) -> None:
    directory = tmp_path / "relays" / "7-1"
    st = os.stat(directory / relay_address.ADDRESS_NAME)
    assert stat.S_IMODE(st.st_mode) == 0o600
    address = json.loads((directory / relay_address.ADDRESS_NAME).read_text())
    assert address == {"host": "127.0.0.1", "port": tcp_relay.port}
    assert not (directory / relay.SOCKET_NAME).exists()  # TCP mode: no Unix socket
    assert [p.name for p in directory.iterdir() if p.name.startswith(".")] == []  # no temporary file left

    assert _exchange(tcp_relay, relay_address.preamble(SECRET)).endswith(b"hello")
    wrong = relay_address.preamble(relay_address.new_secret())
    t0 = time.monotonic()
    assert _exchange(tcp_relay, wrong) == b""  # closed at once, nothing of the replica's
    assert time.monotonic() - t0 < 1.0
    t0 = time.monotonic()
    assert _exchange(tcp_relay, b"") == b""  # no secret: a request shorter than one waits for the deadline only
    assert time.monotonic() - t0 < relay_address.PREAMBLE_DEADLINE_S + 2
    with socket.create_connection((tcp_relay.host, tcp_relay.port), timeout=5) as idle:  # says nothing at all
        t0 = time.monotonic()
        assert idle.recv(10) == b""
        assert time.monotonic() - t0 < relay_address.PREAMBLE_DEADLINE_S + 2
    assert _exchange(tcp_relay, relay_address.preamble(SECRET)).endswith(b"hello")  # still serving the others


def test_the_servers_checks_reach_a_published_relay_with_its_secret_and_fall_back_to_the_socket(
        tcp_relay: relay_address.TcpAddress, tmp_path: Path) -> None:
    from aicc.config import Settings

    settings = Settings(home=tmp_path, database_url="sqlite://")
    jobs = settings.jobs_dir
    jobs.mkdir(parents=True, exist_ok=True)
    (jobs / "relays").symlink_to(tmp_path / "relays")
    assert address(settings, 7, 1) == tcp_relay
    assert probe(tcp_relay, "/health", 8000) is None
    why = probe(relay_address.TcpAddress(tcp_relay.host, tcp_relay.port, relay_address.new_secret()), "/health", 8000)
    assert why is not None and "failed" in why  # a wrong secret gets a closed connection, not an answer
    relay_address.withdraw(tmp_path / "relays" / "7-1" / relay.SOCKET_NAME)
    assert address(settings, 7, 1) == jobs / "relays" / "7-1" / relay.SOCKET_NAME  # withdrawn: no socket either


def test_a_tcp_relays_connections_send_at_once_without_waiting_for_an_ack() -> None:
    """TCP_NODELAY on every accepted connection (inherited from the listener): asyncio sets it only where a
    socket's proto is TCP's, and a replica's answer in two writes would otherwise wait for a delayed ACK."""
    listener, host = relay._tcp_listener("127.0.0.1")
    with listener, socket.create_connection((host, listener.getsockname()[1]), timeout=5):
        accepted, _ = listener.accept()
        with accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_a_tcp_relay_bound_to_every_address_publishes_the_nodes_name() -> None:
    listener, host = relay._tcp_listener("")
    with listener:
        assert listener.getsockname()[0] == "0.0.0.0" and host == socket.gethostname()


def test_the_server_never_takes_a_secret_from_a_file_it_did_not_write(tmp_path: Path) -> None:
    """The relay directory is the project's: a link planted as ``secret`` (to another replica's, say) would
    have the server send that file's content to an address the project published."""
    directory = tmp_path / "relays" / "9-1"
    directory.mkdir(parents=True)
    relay_address.publish(directory, "127.0.0.1", 4242)
    other = tmp_path / "other-secret"
    other.write_text(SECRET)
    (directory / relay_address.SECRET_NAME).symlink_to(other)
    assert relay_address.published(directory) is None
    (directory / relay_address.SECRET_NAME).unlink()
    (directory / relay_address.SECRET_NAME).write_text(SECRET)
    assert relay_address.published(directory) == relay_address.TcpAddress("127.0.0.1", 4242, SECRET)
    os.chown(directory / relay_address.SECRET_NAME, 200_041, 200_041)  # the project's own file: not the server's
    assert relay_address.published(directory) is None
