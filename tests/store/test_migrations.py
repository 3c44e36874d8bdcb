"""The schema the migrations build is exactly the schema the models describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from aicc.services import audit
from aicc.services.principal import SYSTEM
from aicc.store.db import Database
from aicc.store.models import Base


def test_models_and_migrations_do_not_drift(db: Database) -> None:
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations differ; write a migration: {diff}"


def test_audit_events_refuse_update_and_delete_in_the_database(db: Database) -> None:
    with db.write() as s:
        audit.record(s, SYSTEM, "test.event", "thing", 1)
    for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as c:
            c.execute(text(statement))
    with db.read() as s:
        assert s.execute(text("SELECT action FROM audit_events")).scalar_one() == "test.event"
