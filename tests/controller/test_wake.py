"""With several server processes, the one that is not the elected controller wakes the one that is."""

from __future__ import annotations

from aicc.config import Settings
from aicc.controller.loop import Controller
from aicc.controller.wake import WakeListener
from aicc.executors.local import LocalExecutor
from aicc.store.db import Database


def test_a_server_process_that_is_not_the_controller_wakes_the_elected_one(settings: Settings,
                                                                           db: Database) -> None:
    elected = Controller(settings, db, LocalExecutor(settings.jobs_dir, grace_s=0.5))
    other = Controller(settings, db, LocalExecutor(settings.jobs_dir, grace_s=0.5))
    try:
        assert elected.lock.acquire()
        assert not other.lock.acquire()  # the lock elects one
        elected._wake_listener = WakeListener(settings.home, elected.wake)
        elected._wake.clear()
        other.wake()  # what a submission on the other process does
        assert elected._wake.wait(5)
        assert not other._wake.is_set()
    finally:
        other.stop()
        elected.stop()
