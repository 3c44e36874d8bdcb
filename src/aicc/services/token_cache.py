"""Recently authenticated tokens, kept for a few seconds, and dropped everywhere the moment access changes.

Authentication is on every request; the submission path cannot afford two queries for it. A cached
principal must never outlive a revocation, a disabled user or a changed membership, in this process or
in another server process of the same center (``aicc server --processes N``). So every entry is tagged
with the *epoch* read before its database lookup, and an entry whose epoch is no longer current is a miss:

- this process's epoch moves when a change is made (``invalidate``) and again when that transaction
  commits: a lookup that read the old rows while the change was in flight is dropped too;
- the center's shared epoch is eight bytes in a file under the center's home, mapped into every server
  process: a change bumps it to a fresh random value (no lost update between processes can leave a stale
  value current), and reading it is a memory load, no system call.

API servers on other machines (PostgreSQL, several hosts) do not share the file: there the entry's
time-to-live, ``TTL`` seconds, bounds how long a revoked token is still accepted.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from aicc.services.principal import Principal

TTL = 5.0
MAX_ENTRIES = 10_000


class SharedEpoch:
    """Eight bytes in a file, mapped shared: what all server processes of one center compare."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            if os.fstat(fd).st_size < 8:
                os.pwrite(fd, secrets.token_bytes(8), 0)
            self._map = mmap.mmap(fd, 8, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        self.path = path

    def read(self) -> bytes:
        return self._map[:8]

    def bump(self) -> None:
        self._map[:8] = secrets.token_bytes(8)

    def close(self) -> None:
        with contextlib.suppress(BufferError, ValueError):
            self._map.close()


class TokenCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, object, Principal]] = {}
        self._local = 0
        self._shared: SharedEpoch | None = None
        self._pending = threading.local()

    def share(self, path: Path | None) -> None:
        """Compare (and bump) the center's shared epoch at ``path`` from now on; None: this process only."""
        with self._lock:
            old, self._shared = self._shared, SharedEpoch(path) if path is not None else None
            self._items.clear()
            self._local += 1
        if old is not None and (self._shared is None or old.path != self._shared.path):
            old.close()

    def epoch(self) -> object:
        """Read before a database lookup; handed back to ``put`` with its result."""
        shared = self._shared
        return (self._local, shared.read() if shared is not None else None)

    def get(self, token: str) -> Principal | None:
        hit = self._items.get(token)
        if hit is None or hit[0] <= time.monotonic() or hit[1] != self.epoch():
            return None
        return hit[2]

    def put(self, token: str, epoch: object, principal: Principal, valid_s: float = TTL) -> None:
        """Keep ``principal`` for ``valid_s`` seconds at most (never past the token's own expiry)."""
        with self._lock:
            if len(self._items) > MAX_ENTRIES:
                self._items.clear()
            self._items[token] = (time.monotonic() + min(TTL, valid_s), epoch, principal)

    def invalidate(self) -> None:
        """Access changed (revocation, role, membership, disabled user): drop every entry, here and in every
        server process of the center, now and again when the calling thread's transaction commits."""
        self._bump()
        self._pending.changed = True

    def _bump(self) -> None:
        with self._lock:
            self._local += 1
            self._items.clear()
        shared = self._shared
        if shared is not None:
            shared.bump()

    def committed(self) -> None:
        if getattr(self._pending, "changed", False):
            self._pending.changed = False
            self._bump()

    def rolled_back(self) -> None:
        self._pending.changed = False


cache = TokenCache()


@event.listens_for(Session, "after_commit")
def _after_commit(_: Session) -> None:
    cache.committed()


@event.listens_for(Session, "after_rollback")
def _after_rollback(_: Any) -> None:
    cache.rolled_back()
