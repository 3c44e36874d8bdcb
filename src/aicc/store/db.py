"""Engines and transactions for SQLite (default) and PostgreSQL.

SQLite runs in WAL mode with foreign keys on and a busy timeout. Write
transactions start with ``BEGIN IMMEDIATE`` so two writers queue on the lock at
the start instead of failing half-way with "database is locked" when a reader
upgrades; read transactions stay deferred so reads never wait on writes.

Writers of several processes on one SQLite file (``aicc server --processes N``,
the controller beside its API workers) queue on an ``flock`` of a file beside the
database before ``BEGIN IMMEDIATE``: the kernel wakes the next writer the moment
the lock is free, where SQLite's busy handler sleeps 1 to 100 ms between retries
and lets a busy process take the lock again and again, which starved the other
process's writes for a second and more (the p99 of submissions with two workers).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        if parsed.drivername == "postgresql":
            url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("aicc_write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class _WriteLock:
    """One writer at a time on a SQLite file: threads of this process on a lock, then processes on an
    ``flock`` of ``<database>-writer`` (an in-memory database has no other process to wait for)."""

    def __init__(self, database: str | None) -> None:
        self._threads = threading.Lock()
        self._path = f"{database}-writer" if database and database != ":memory:" else None
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int | None:
        if self._path is None:
            return None
        if self._fd is None or self._pid != os.getpid():  # a forked child opens its own (its own lock)
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            fd = self._file()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)  # releases the interpreter lock while it waits
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *_: object) -> None:
        try:
            if self._fd is not None and self._pid == os.getpid():
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def close(self) -> None:
        with self._threads:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None


class Database:
    """One engine and its two session factories; created once per process."""

    def __init__(self, url: str, *, audit_seal: Any = None) -> None:
        from aicc.store import changes  # noqa: F401  (registers the change-stamp hook on every session)

        self.url = url
        self.engine = make_engine(url)
        self.audit_seal = audit_seal
        """The audit key and anchor file (``aicc.services.audit_seal``); None: from the environment on first use."""
        info = {"database": self}  # how the audit log finds its key from inside a session
        self._reader = sessionmaker(self.engine, expire_on_commit=False, info=info)
        self._writer = sessionmaker(
            self.engine.execution_options(aicc_write=True), expire_on_commit=False, info=info
        )
        # SQLite has one writer at a time. Queueing writers of this process on a lock hands the
        # database over in microseconds; left to SQLite's busy handler they would sleep and retry
        # for milliseconds each, which is what made concurrent submissions slow.
        self._write_lock = _WriteLock(self.engine.url.database) if is_sqlite(self.engine) else None

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One command, one transaction: everything commits together or nothing does."""
        with self._write_lock or nullcontext(), self._writer() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reader() as session, session.begin():
            yield session

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A read transaction that sees one consistent snapshot across statements (PostgreSQL: REPEATABLE READ,
        read only; SQLite's read transactions already do): what the controller's scheduler state is read in."""
        if is_sqlite(self.engine):
            with self.read() as session:
                yield session
            return
        with self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, \
                Session(conn, expire_on_commit=False) as session, session.begin():
            session.execute(text("SET TRANSACTION READ ONLY"))
            yield session

    def dispose(self) -> None:
        if self.audit_seal is not None:
            self.audit_seal.close()  # anchors the last committed head: a clean shutdown
        if self._write_lock is not None:
            self._write_lock.close()
        self.engine.dispose()
