"""Portal fixtures: the test world with a password for every account, and signed-in TestClients."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from aicc.api.app import create_app
from aicc.config import Settings
from aicc.services import users
from aicc.store.db import Database
from aicc.store.models import UserRow
from tests.world import World, build_world

PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def set_passwords(db: Database, password: str = PASSWORD) -> None:
    """One hash for everyone: scrypt is deliberately slow, and tests sign in as many users."""
    hashed = users.hash_password(password)
    with db.write() as s:
        for user in s.query(UserRow).all():
            user.password_hash = hashed


def csrf_of(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> TestClient:
    page = client.get("/signin")
    r = client.post("/signin", data={"username": username, "password": password, "csrf": csrf_of(page.text)},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


@pytest.fixture
def pworld(db: Database) -> World:
    world = build_world(db)
    set_passwords(db)
    return world


@pytest.fixture
def portal(settings: Settings, db: Database, pworld: World) -> Iterator[Callable[[str | None], TestClient]]:
    """``portal("a-member")`` is a client signed in as that user; ``portal(None)`` is anonymous."""
    app = create_app(settings, db)
    clients: list[TestClient] = []

    def make(username: str | None) -> TestClient:
        client = TestClient(app, raise_server_exceptions=True)
        client.__enter__()
        clients.append(client)
        return sign_in(client, username) if username else client

    yield make
    for c in clients:
        c.__exit__(None, None, None)
