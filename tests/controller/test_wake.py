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


def test_an_api_worker_without_a_controller_of_its_own_wakes_the_centers_controller_process(
        settings: Settings, db: Database) -> None:
    """``aicc server --processes N`` runs the controller in a process of its own: a submission on an API worker
    (controller off) pokes it, as the elected controller's listener hears."""
    import threading

    from fastapi.testclient import TestClient

    from aicc.api.app import create_app
    from tests.world import World, build_world

    world = build_world(db)
    heard = threading.Event()
    listener = WakeListener(settings.home, heard.set)
    try:
        with TestClient(create_app(settings, db)) as client:
            assert client.app.state.controller is None  # type: ignore[attr-defined]
            r = client.post("/api/v1/jobs", headers=World.auth(world.a.member_token),
                            json={"project": "proj-a", "command": ["true"], "flavors": ["cpu"]})
            assert r.status_code == 201, r.text
        assert heard.wait(5)
    finally:
        listener.close()
