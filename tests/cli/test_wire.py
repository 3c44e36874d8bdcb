"""The CLI's own HTTP/1.1 (``aicc.cli.wire``) reads every way a server may frame an answer, keeps the connection
alive, and sends again when the server dropped an idle one; the client says "cannot reach" with status 3."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from aicc.cli.client import Client, CliError, Exit
from aicc.cli.wire import Plain


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    peers: ClassVar[list[int]] = []

    def log_message(self, *_: Any) -> None:
        pass

    def _answer(self, body: bytes, *, chunked: bool = False, close: bool = False, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif not close:
            self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if chunked:
            for i in range(0, len(body), 5):
                part = body[i:i + 5]
                self.wfile.write(f"{len(part):x};ext=1\r\n".encode() + part + b"\r\n")
            self.wfile.write(b"0\r\nX-Trailer: 1\r\n\r\n")
        else:
            self.wfile.write(body)

    def do_GET(self) -> None:
        Handler.peers.append(self.client_address[1])
        echo = json.dumps({"path": self.path, "auth": self.headers.get("Authorization")}).encode()
        if self.path.startswith("/api/v1/chunked"):
            self._answer(echo, chunked=True)
        elif self.path.startswith("/api/v1/close"):
            self._answer(echo, close=True)
        elif self.path.startswith("/api/v1/missing"):
            self._answer(json.dumps({"detail": "no such thing"}).encode(), status=404)
        else:
            self._answer(echo)

    def do_POST(self) -> None:
        Handler.peers.append(self.client_address[1])
        got = self.rfile.read(int(self.headers["Content-Length"]))
        self._answer(json.dumps({"got": json.loads(got)}).encode())


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Handler.peers = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_answers_of_every_framing_come_back_whole_on_one_kept_alive_connection(server: str) -> None:
    c = Client(server, "tok")
    assert c.get("/plain", state=["a", "b"], mine=True, skip=None)["path"] == \
        "/api/v1/plain?state=a&state=b&mine=true"
    assert c.get("/chunked")["auth"] == "Bearer tok"
    assert c.post("/jobs", {"name": "학습"}) == {"got": {"name": "학습"}}
    assert len(set(Handler.peers)) == 1  # the same connection throughout
    assert c.get("/close")["path"] == "/api/v1/close"  # read to the end; the next call reconnects
    assert c.get("/plain")["path"] == "/api/v1/plain"
    assert len(set(Handler.peers)) == 2


def test_a_refusal_and_an_unreachable_server_exit_with_their_own_statuses(server: str) -> None:
    with pytest.raises(CliError) as refused:
        Client(server, "tok").get("/missing")
    assert refused.value.code == Exit.REFUSED and "error 404: no such thing" in str(refused.value)
    with pytest.raises(CliError) as down:
        Client("http://127.0.0.1:1", "tok").get("/plain")
    assert down.value.code == Exit.UNREACHABLE and "cannot reach AICC" in str(down.value)


def test_a_connection_the_server_dropped_while_idle_is_opened_again(server: str) -> None:
    c = Client(server, "tok")
    c.get("/plain")
    conn = c._conn
    assert isinstance(conn, Plain) and conn._sock is not None
    conn._sock.shutdown(2)  # as a server's keep-alive timeout would leave it
    assert c.get("/plain")["path"] == "/api/v1/plain"
