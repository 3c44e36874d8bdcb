"""Where a replica's relay listens, and the secret its TCP listener asks for (``aicc.runner.relay``).

Shared by the runner on a node (which publishes the address and checks the secret) and by the server (which
reads both back to reach the replica: gateway, health checks). Standard library only (the shepherd's rule).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

ADDRESS_NAME = "address"
"""Beside the socket's place in TCP mode: ``{"host": …, "port": …}``, where the relay listens."""
SECRET_NAME = "secret"  # noqa: S105  (a file name, not a secret)
"""Beside it too: the replica's secret (hex), written by the server at launch, read by the runner."""
PREAMBLE_PREFIX = b"AICC-RELAY/1 "
PREAMBLE_DEADLINE_S = 2.0
"""How long a TCP connection may take to present its secret before it is closed."""


@dataclass(frozen=True, slots=True)
class TcpAddress:
    """A replica's TCP relay as the server reaches it. ``str()`` names it for connection pools (never the
    secret)."""

    host: str
    port: int
    secret: str = field(repr=False)

    def __str__(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    @property
    def preamble(self) -> bytes:
        return preamble(self.secret)


def new_secret() -> str:
    return secrets.token_hex(32)


def preamble(secret: str) -> bytes:
    """The bytes a TCP connection to a relay opens with, before its HTTP request."""
    return PREAMBLE_PREFIX + secret.encode("ascii") + b"\n"


def publish(directory: Path, host: str, port: int) -> None:
    """Write where the TCP relay listens, atomically (a reader sees the whole address or none), 0600."""
    tmp = directory / f".{ADDRESS_NAME}.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps({"host": host, "port": port}))
    os.replace(tmp, directory / ADDRESS_NAME)


def published(directory: Path) -> TcpAddress | None:
    """The TCP relay of the replica whose relay directory this is, with its secret; None when it has not
    published one (Unix mode, or not up yet), what is there is not a well-formed address, or the secret is not
    the file the server wrote (the directory is the project's: a link to another file is never read)."""
    try:
        data = json.loads((directory / ADDRESS_NAME).read_text())
        fd = os.open(directory / SECRET_NAME, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd) as f:
            if os.fstat(fd).st_uid != os.geteuid():  # ours (the server's), not one planted in its place
                return None
            secret = f.read(128).strip()
    except (OSError, ValueError):
        return None
    host, port = (data.get("host"), data.get("port")) if isinstance(data, dict) else (None, None)
    if not isinstance(host, str) or not host or type(port) is not int or not 0 < port < 65536:
        return None
    if len(secret) != 64 or not all(c in "0123456789abcdef" for c in secret):
        return None
    return TcpAddress(host, port, secret)


def withdraw(path: Path) -> None:
    """Out of the gateway's reach: the socket (Unix mode) and the published address (TCP mode) go."""
    for gone in (path, path.parent / ADDRESS_NAME):
        with contextlib.suppress(OSError):
            os.unlink(gone)
