"""The proxy connects as root to a path a run controls: only the run's own socket passes."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from aicc.services.sessions import socket_problem


def _listen(path: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.listen()
    return s


def test_only_a_socket_owned_by_a_run_uid_passes(tmp_path: Path) -> None:
    sock = tmp_path / "session.sock"
    assert socket_problem(sock) == "not listening yet"
    with _listen(sock):
        if os.geteuid() == 0:
            assert socket_problem(sock) == "not the session's own socket"  # root's own: planted
            os.chown(sock, 200_123, 200_123)
        assert socket_problem(sock) is None or os.geteuid() != 0
        target = tmp_path / "elsewhere.sock"
        with _listen(target):
            sock.unlink()
            sock.symlink_to(target)  # a run pointing the proxy at someone else's socket
            assert socket_problem(sock) == "not a socket"
    sock.unlink()
    sock.write_text("x")
    assert socket_problem(sock) == "not a socket"
    assert "too long" in (socket_problem(tmp_path / ("x" * 120)) or "")
