"""Only one controller per center.

SQLite: an exclusive ``flock`` on ``$AICC_HOME/controller.lock`` (one machine by
definition). PostgreSQL: a session advisory lock held on a dedicated connection,
so several API servers may run and exactly one of them schedules; if its process
dies the connection closes and another server takes over.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

from sqlalchemy import text

from aicc.store.db import Database

ADVISORY_KEY = 0x41494343  # "AICC"


class ControllerLock:
    def __init__(self, db: Database, home: Path) -> None:
        self.db = db
        self.home = home
        self._fd: int | None = None
        self._conn: Any = None

    def acquire(self) -> bool:
        """Try once; True if this process is now the controller."""
        if self.db.engine.dialect.name == "sqlite":
            self.home.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.home / "controller.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd = fd
            return True
        conn = self.db.engine.connect()
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar())
        conn.commit()
        if got:
            self._conn = conn
        else:
            conn.close()
        return got

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._conn is not None:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            self._conn.commit()
            self._conn.close()
            self._conn = None

    @property
    def held(self) -> bool:
        return self._fd is not None or self._conn is not None
