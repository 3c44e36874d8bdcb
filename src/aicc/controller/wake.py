"""Waking the elected controller from another server process on this machine.

With several API worker processes only one holds the controller lock; a submission that lands on another
worker would otherwise wait for the controller's next tick. The controller listens on an abstract Unix
datagram socket named after ``AICC_HOME`` (Linux; nothing on disk, nothing to clean up); any process pokes
it with one byte. Across machines (PostgreSQL, several hosts) the tick remains the fallback.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("aicc.controller")


@functools.lru_cache(maxsize=16)
def address(home: Path) -> str:
    """Cached: an API worker pokes after every submission, and resolving the path is a few system calls."""
    digest = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:24]
    return f"\0aicc-wake-{digest}"


_sender: tuple[int, socket.socket] | None = None


def poke(home: Path) -> None:
    """Tell the controller of this center (if one listens on this machine) that there is work.

    One unbound datagram socket per process, kept: an API worker pokes after every submission."""
    global _sender
    with contextlib.suppress(OSError):
        if _sender is None or _sender[0] != os.getpid():
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.setblocking(False)
            _sender = (os.getpid(), sock)
        _sender[1].sendto(b"w", address(home))


class WakeListener:
    """Held by the elected controller while it holds the lock."""

    def __init__(self, home: Path, on_wake: Callable[[], None]) -> None:
        self.sock: socket.socket | None = None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(address(home))
        except OSError as exc:  # another process of this center listens (it will be the one woken)
            log.warning("cannot listen for wake-ups from other server processes: %s", exc)
            sock.close()
            return
        self.sock = sock

        def listen() -> None:
            while True:
                try:
                    sock.recv(16)
                except OSError:
                    return
                on_wake()

        threading.Thread(target=listen, name="aicc-wake", daemon=True).start()

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()
            self.sock = None
