"""SQLite writers of several processes queue on one lock file, so none of them starves on SQLite's busy handler."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import shutil
from pathlib import Path

from sqlalchemy import text

from aicc.store.db import Database


def _lock_is_free(path: str) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def _probe(path: str, answer: multiprocessing.SimpleQueue) -> None:  # type: ignore[type-arg]
    answer.put(_lock_is_free(path))


def _increment(url: str, times: int) -> None:
    db = Database(url)
    for _ in range(times):
        with db.write() as s:
            value = s.execute(text("SELECT seq FROM audit_head WHERE id = 1")).scalar_one()
            s.execute(text("UPDATE audit_head SET seq = :v WHERE id = 1"), {"v": value + 1})
    db.dispose()


def test_a_write_transaction_holds_the_lock_file_that_other_processes_wait_on(tmp_path: Path,
                                                                              sqlite_template: Path) -> None:
    path = tmp_path / "aicc.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    lock = f"{path}-writer"
    ctx = multiprocessing.get_context("spawn")
    answer = ctx.SimpleQueue()
    with db.write() as s:
        s.execute(text("SELECT 1"))
        p = ctx.Process(target=_probe, args=(lock, answer))
        p.start()
        p.join(60)
        held_during = not answer.get()
    with db.read() as s:  # reads never take it
        s.execute(text("SELECT 1"))
        p = ctx.Process(target=_probe, args=(lock, answer))
        p.start()
        p.join(60)
        free_during_read = answer.get()
    db.dispose()
    assert held_during, "another process could take the writer lock while a write transaction was open"
    assert free_during_read and _lock_is_free(lock)


def test_read_modify_write_transactions_of_two_processes_lose_no_update(tmp_path: Path,
                                                                       sqlite_template: Path) -> None:
    path = tmp_path / "aicc.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_increment, args=(url, 200)) for _ in range(2)]
    for w in workers:
        w.start()
    _increment(url, 200)
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    db = Database(url)
    with db.read() as s:
        assert s.execute(text("SELECT seq FROM audit_head WHERE id = 1")).scalar_one() == 600
    db.dispose()
