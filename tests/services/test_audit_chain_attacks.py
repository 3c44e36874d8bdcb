"""A database writer attacks the audit log; the key and the anchors outside the database catch it.

The attacker may run any SQL (triggers off, rows deleted, renumbered, re-hashed, the head moved) but has
neither the audit key nor the anchor file. Every test runs on SQLite and, when configured, PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from aicc.core.audit import GENESIS, event_hash
from aicc.services import audit
from aicc.services.audit_seal import AuditSeal
from aicc.services.principal import SYSTEM
from aicc.store.db import Database
from tests.world import World


@contextmanager
def attacker(db: Database) -> Iterator[Connection]:
    """A connection with the append-only triggers out of the way, as a database owner can arrange."""
    with db.engine.begin() as c:
        if db.engine.dialect.name == "sqlite":
            c.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_update")
            c.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_delete")
        else:
            c.exec_driver_sql("SET LOCAL session_replication_role = replica")  # triggers off, this transaction only
        yield c


def write(db: Database, n: int, action: str = "test.event") -> None:
    for i in range(n):
        with db.write() as s:
            audit.record(s, SYSTEM, action, "thing", i, data={"i": i, "name": "한국어"})


def seal(db: Database) -> AuditSeal:
    assert isinstance(db.audit_seal, AuditSeal)
    return db.audit_seal


def problems(db: Database) -> list[str]:
    with db.read() as s:
        return [f"{p.seq}: {p.problem}" for p in audit.verify(s, SYSTEM).problems]


def rows(c: Connection) -> list[dict[str, Any]]:
    got = c.execute(text("SELECT seq, at, actor, action, target_type, target_id, organization_id, data, prev_hash "
                         "FROM audit_events ORDER BY seq")).mappings().all()
    return [dict(r) | {"data": r["data"] if isinstance(r["data"], dict) else json.loads(r["data"])} for r in got]


def test_an_intact_keyed_log_verifies_against_its_anchors(db: Database) -> None:
    write(db, 5)
    seal(db).flush()
    with db.read() as s:
        v = audit.verify(s, SYSTEM)
    assert v.intact and v.events == 5 and v.anchors >= 1 and v.keyed_from == 1
    assert seal(db).key_file.stat().st_mode & 0o777 == 0o600


def test_delete_renumber_rehash_and_move_the_head_is_found_at_the_deleted_event(db: Database) -> None:
    write(db, 8)
    seal(db).flush()
    with attacker(db) as c:  # what the attack session did: unkeyed SHA-256 over a renumbered chain
        c.execute(text("DELETE FROM audit_events WHERE seq = 4"))
        c.execute(text("UPDATE audit_events SET seq = seq - 1 WHERE seq > 4"))
        prev = GENESIS
        for r in rows(c):
            h = event_hash(**(r | {"prev_hash": prev}))
            c.execute(text("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE seq = :s"),
                      {"p": prev, "h": h, "s": r["seq"]})
            prev = h
        c.execute(text("UPDATE audit_head SET seq = 7, hash = :h"), {"h": prev})
    found = problems(db)
    assert found[0].startswith("1: ")  # re-hashing every row without the key breaks every MAC from the first
    assert "events 1..7 (7 rows)" in found[0] and "MAC" in found[0]
    assert any("tail truncated below the anchor" in p for p in found)


def test_deleting_one_event_is_named_by_the_link_of_the_next(db: Database) -> None:
    write(db, 6)
    with attacker(db) as c:
        c.execute(text("DELETE FROM audit_events WHERE seq = 3"))
    found = problems(db)
    assert found and found[0].startswith("4: event 4 links to a predecessor that is not event 2")


def test_an_edited_row_is_found(db: Database) -> None:
    write(db, 5)
    with attacker(db) as c:
        c.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3"))
    assert problems(db) == ["3: event 3: content does not match the MAC (row edited)"]


def test_truncating_the_tail_below_the_last_anchor_is_found(db: Database) -> None:
    write(db, 6)
    seal(db).flush()  # anchored at 6
    with attacker(db) as c:
        top = c.execute(text("SELECT hash FROM audit_events WHERE seq = 4")).scalar_one()
        c.execute(text("DELETE FROM audit_events WHERE seq > 4"))
        c.execute(text("UPDATE audit_head SET seq = 4, hash = :h"), {"h": top})
    found = problems(db)
    assert len(found) == 1 and "the log ends at event 4 but the anchor" in found[0] and "records event 6" in found[0]


def test_an_edited_anchor_file_is_found(db: Database) -> None:
    write(db, 3)
    seal(db).flush()
    path = seal(db).anchor_file
    lines = path.read_text().splitlines()
    doc = json.loads(lines[-1]) | {"seq": 2}
    path.write_text("\n".join([*lines[:-1], json.dumps(doc)]) + "\n")
    assert any("signature does not hold" in p for p in problems(db))


def test_a_stray_row_at_head_plus_one_is_reported_and_never_blocks_audited_writes(
        app_client: TestClient, world: World, db: Database) -> None:
    """Before: the next audited write took head + 1, collided with the stray row and every write got 409."""
    admin = World.auth(world.admin_token)
    with db.read() as s:
        head = s.execute(text("SELECT seq, hash FROM audit_head")).one()
    with attacker(db) as c:
        c.execute(text("INSERT INTO audit_events (seq, at, actor, action, target_type, target_id, organization_id, "
                       "data, prev_hash, hash) VALUES (:s, '2026-12-01T00:00:00', 'mallory', 'x', 'x', NULL, NULL, "
                       "'{}', :p, :h)"), {"s": head.seq + 1, "p": head.hash, "h": "f" * 64})
    for name in ("after-stray-1", "after-stray-2"):
        r = app_client.post("/api/v1/organizations", headers=admin,
                            json={"name": name, "display_name": name, "kind": "startup"})
        assert r.status_code == 201, r.text
    v = app_client.get("/api/v1/audit/verify", headers=admin).json()
    assert not v["intact"] and v["events"] == head.seq + 2
    assert [p["seq"] for p in v["problems"]] == [head.seq + 1]
    assert "not written by AICC" in v["problems"][0]["problem"]
    assert f"continues from event {head.seq}" in v["problems"][0]["problem"]


def test_a_legacy_log_is_sealed_by_the_first_anchor_and_its_rewrite_is_found(db: Database) -> None:
    """An old database: unkeyed SHA-256 events, no chain id. The first keyed write anchors the legacy head."""
    prev = GENESIS
    with attacker(db) as c:
        for seq in (1, 2, 3):
            r = {"seq": seq, "at": f"2026-01-0{seq}T00:00:00", "actor": "old", "action": "legacy.event",
                 "target_type": "thing", "target_id": str(seq), "organization_id": None, "data": {"n": seq},
                 "prev_hash": prev}
            h = event_hash(**r)
            c.execute(text("INSERT INTO audit_events (seq, at, actor, action, target_type, target_id, "
                           "organization_id, data, prev_hash, hash) VALUES (:seq, :at, :actor, :action, "
                           ":target_type, :target_id, :organization_id, :data, :prev_hash, :hash)"),
                      r | {"data": json.dumps(r["data"]), "hash": h})
            prev = h
        c.execute(text("UPDATE audit_head SET seq = 3, hash = :h, keyed_from = NULL, chain_id = NULL"), {"h": prev})
    write(db, 2)
    seal(db).flush()
    with db.read() as s:
        v = audit.verify(s, SYSTEM)
    assert v.intact and v.keyed_from == 4 and v.events == 5
    with attacker(db) as c:  # rewrite the legacy part consistently: legal SHA-256, but not what was anchored
        c.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
        prev = GENESIS
        for r in rows(c)[:3]:
            h = event_hash(**(r | {"prev_hash": prev}))
            c.execute(text("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE seq = :s"),
                      {"p": prev, "h": h, "s": r["seq"]})
            prev = h
    found = problems(db)
    assert found and found[0].startswith("4: event 4 links to a predecessor that is not event 3")


def test_a_moved_head_does_not_make_new_events_link_to_a_forged_row(db: Database) -> None:
    """The stray row *and* the head moved onto it: the writer chains on from the last authentic event."""
    write(db, 3)
    with db.read() as s:
        head = s.execute(text("SELECT seq, hash FROM audit_head")).one()
    with attacker(db) as c:
        c.execute(text("INSERT INTO audit_events (seq, at, actor, action, target_type, target_id, organization_id, "
                       "data, prev_hash, hash) VALUES (:s, '2026-12-01T00:00:00', 'mallory', 'x', 'x', NULL, NULL, "
                       "'{}', :p, :h)"), {"s": head.seq + 1, "p": head.hash, "h": "e" * 64})
        c.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": head.seq + 1, "h": "e" * 64})
    write(db, 2, "after.attack")
    found = problems(db)
    assert len(found) == 1 and found[0].startswith(f"{head.seq + 1}: ") and "not written by AICC" in found[0]


def write_batches(db: Database, n: int, action: str = "batch.event") -> None:
    """The group-committed path (``record_many``, plain SQL on the head), two events per transaction."""
    for i in range(n):
        with db.write() as s:
            audit.record_many(s, [(SYSTEM, action, "thing", f"{i}-{k}", None, {"i": i, "k": k}) for k in (0, 1)])


def test_batched_appends_after_a_moved_head_chain_on_from_the_last_authentic_event(db: Database) -> None:
    write_batches(db, 2)
    with db.read() as s:
        head = s.execute(text("SELECT seq, hash FROM audit_head")).one()
    with attacker(db) as c:
        c.execute(text("INSERT INTO audit_events (seq, at, actor, action, target_type, target_id, organization_id, "
                       "data, prev_hash, hash) VALUES (:s, '2026-12-01T00:00:00', 'mallory', 'x', 'x', NULL, NULL, "
                       "'{}', :p, :h)"), {"s": head.seq + 1, "p": head.hash, "h": "e" * 64})
        c.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": head.seq + 1, "h": "e" * 64})
    write_batches(db, 2, "after.attack")
    found = problems(db)
    assert len(found) == 1 and found[0].startswith(f"{head.seq + 1}: ") and "not written by AICC" in found[0]


def test_single_and_batched_appends_in_one_transaction_keep_one_intact_chain(db: Database) -> None:
    """``record`` holds the head as an object; a ``record_many`` after it in the same session must not leave
    that object stale (it takes the ORM path), and the next transaction's plain path links to both."""
    with db.write() as s:
        audit.record(s, SYSTEM, "one", "thing", 1)
        audit.record_many(s, [(SYSTEM, "many", "thing", k, None, {}) for k in range(3)])
        audit.record(s, SYSTEM, "one-more", "thing", 2)
    write_batches(db, 2)
    seal(db).flush()
    with db.read() as s:
        v = audit.verify(s, SYSTEM)
        head = s.execute(text("SELECT seq FROM audit_head")).scalar_one()
    assert v.intact and v.events == head == v.last_seq
    assert v.events >= 9
