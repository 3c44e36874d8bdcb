"""Shared fixtures: a real, migrated database per test, on SQLite and (when configured) PostgreSQL.

``AICC_TEST_POSTGRES_URL`` (set by ``.ci/run`` from ``scripts/pg-up``) adds PostgreSQL to
every test that uses ``db``. Each xdist worker gets its own PostgreSQL database,
migrated once and truncated between tests; SQLite tests copy a migrated file.
"""

from __future__ import annotations

import getpass
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from aicc.api.app import create_app
from aicc.config import Settings
from aicc.services import tokens
from aicc.services.audit_seal import AuditSeal
from aicc.store.db import Database
from aicc.store.migrate import upgrade
from tests.world import World, build_world

PG_URL = None if os.environ.get("AICC_TEST_FAST") == "1" else os.environ.get("AICC_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgres"] if PG_URL else ["sqlite"]


FAST = os.environ.get("AICC_TEST_FAST") == "1"
"""``make test-fast``: only what needs none of the real services below; ``make test`` runs everything."""
NEEDS = {
    "slurm": 'the Slurm cluster: eval "$(scripts/slurm-up)"',
    "registry": "the image registry: export AICC_TEST_REGISTRY=$(scripts/registry-up | tail -1) && "
                "scripts/build-test-images $AICC_TEST_REGISTRY",
    "browser": "Chromium: scripts/install-chromium",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark browser tests by what they use (Playwright), so no test forgets its marker; in the fast tier,
    skip the tests that need a real service, each saying what to start."""
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and "sync_playwright" in vars(module):
            item.add_marker(pytest.mark.browser)
        if "slurm_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slurm)
        if FAST:
            for marker, start in NEEDS.items():
                if item.get_closest_marker(marker) is not None:
                    item.add_marker(pytest.mark.skip(reason=f"fast tier; needs {start}, then make test"))
                    break


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Temporary directories outside /tmp/pytest-of-<user>: every pytest session resets that one to 0700,
    and jobs (running as project uids) must pass through it to their job directories (see below)."""
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        root = Path(tempfile.gettempdir()) / "aicc-pytest"
        root.mkdir(exist_ok=True)
        os.chmod(root, 0o1777)
        config.option.basetemp = str(root / f"{getpass.getuser()}-{os.getpid()}")
        config.add_cleanup(lambda: shutil.rmtree(config.option.basetemp, ignore_errors=True))


def _passable(path: Path) -> Path:
    for p in [path, *path.parents]:
        if p != Path("/") and not p.stat().st_mode & 0o001:
            os.chmod(p, p.stat().st_mode | 0o001)
    return path


@pytest.fixture(scope="session", autouse=True)
def _jobs_can_pass_tmp(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Jobs run as their project's uid, not root: they must be able to pass (o+x, not list) through pytest's
    temporary directories (0700 root) down to their own job directory, as through /var/lib on a server.
    Every directory the factory makes (``tmp_path`` and ``mktemp`` alike) is made passable."""
    original = tmp_path_factory.mktemp

    def mktemp(basename: str, numbered: bool = True) -> Path:
        return _passable(original(basename, numbered))

    tmp_path_factory.mktemp = mktemp  # type: ignore[method-assign]
    _passable(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "aicc.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def pg_worker_url(worker_id: str) -> Iterator[str | None]:
    if not PG_URL:
        yield None
        return
    name = f"aicc_test_{worker_id}".replace("-", "_")
    admin = create_engine(make_url(PG_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    db = Database(url)
    upgrade(db.engine)
    db.dispose()
    yield url
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(db: Database) -> None:
    with db.engine.begin() as c:
        tables = [r[0] for r in c.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"))]
        c.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        c.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :h)"), {"h": "0" * 64})


def audit_seal(home: Path) -> AuditSeal:
    """The audit key and anchor file where ``Settings(home=home)`` would put them."""
    return AuditSeal(home / "secrets" / "audit.key", home / "audit-anchors.log")


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    tokens.invalidate_cache()
    if request.param == "sqlite":
        path = tmp_path / "aicc.db"
        shutil.copy(sqlite_template, path)
        database = Database(f"sqlite:///{path}", audit_seal=audit_seal(tmp_path / "home"))
    else:
        database = Database(request.getfixturevalue("pg_worker_url"), audit_seal=audit_seal(tmp_path / "home"))
        _truncate(database)
    yield database
    database.dispose()
    tokens.invalidate_cache()


@pytest.fixture
def settings(tmp_path: Path, db: Database) -> Settings:
    return Settings(home=tmp_path / "home", database_url=db.url, max_body_bytes=256 * 1024, controller=False)


@pytest.fixture
def app_client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def world(db: Database) -> World:
    return build_world(db)


@pytest.fixture(scope="session")
def btrfs_mount(worker_id: str) -> Iterator[Path]:
    """A loop-mounted btrfs with quotas (scripts/workspaces-up), one per xdist worker, gone afterwards: the
    file system that enforces workspace quotas. Sparse, 6 GiB: the 2 GiB resumed upload must fit beside what
    the worker's earlier tests left there and btrfs's own metadata (3 GiB showed 2.5 GiB free when empty)."""
    mnt = Path(tempfile.gettempdir()) / f"aicc-test-ws-{os.getpid()}-{worker_id}"
    script = Path(__file__).parent.parent / "scripts"
    import subprocess

    subprocess.run([script / "workspaces-up", str(mnt), "6G"], check=True, capture_output=True)
    try:
        yield mnt
    finally:
        subprocess.run([script / "workspaces-down", str(mnt), "--purge"], check=False, capture_output=True)


@pytest.fixture
def workspace_root(btrfs_mount: Path, tmp_path: Path) -> Path:
    """A fresh directory on that file system for one test's workspaces (project ids repeat between tests)."""
    root = btrfs_mount / tmp_path.name
    root.mkdir()
    return root
