"""Append events to the keyed, anchored audit chain inside the caller's transaction; verify it.

Appending in the same transaction as the change it describes means an event exists exactly when its
change committed. Locking the head row serializes appends on PostgreSQL; SQLite serializes writers anyway.
The next sequence number is past the highest row present, and the new event links to the head: a row
someone slipped in above the head is reported by ``verify`` but never makes a write fail.

Databases from before the key: the first start with a key records ``keyed_from`` (the first keyed
sequence number) and a chain id, and anchors the legacy head at once; older events stay verified by
their SHA-256 chain up to that anchor, which seals them.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, event, func, insert, select
from sqlalchemy.orm import Session

from aicc.core.audit import ChainKeys, EventRow, Verification, mac_body
from aicc.core.audit import verify as verify_records
from aicc.services.audit_seal import AuditSeal
from aicc.services.principal import Principal
from aicc.store.models import AuditEventRow, AuditHeadRow, utcnow

_PENDING = "aicc_audit_pending"
_seal_lock = threading.Lock()
_default: AuditSeal | None = None


def seal_of(s: Session) -> AuditSeal:
    """The key and anchor file of the session's database (from the environment if it was given none)."""
    global _default
    db = s.info.get("database")
    seal = getattr(db, "audit_seal", None) if db is not None else _default
    if seal is None:
        from aicc.config import load_settings

        with _seal_lock:
            seal = getattr(db, "audit_seal", None) if db is not None else _default
            if seal is None:
                seal = AuditSeal.from_settings(load_settings())
                if db is not None:
                    db.audit_seal = seal
                else:
                    _default = seal
    assert isinstance(seal, AuditSeal)
    return seal


def _keyed(s: Session, head: AuditHeadRow) -> ChainKeys:
    """The chain's keys; the first keyed write (or start) gives the chain an id and seals the legacy head."""
    seal = seal_of(s)
    if head.chain_id is None or head.keyed_from is None:
        head.chain_id = secrets.token_hex(16)
        head.keyed_from = _top(s, head) + 1
        s.info[_PENDING] = (head.chain_id, head.keyed_from, head.seq, head.hash, True)
    return seal.keys(head.chain_id)


def _top(s: Session, head: AuditHeadRow) -> int:
    highest = s.execute(select(func.max(AuditEventRow.seq))).scalar()
    return max(head.seq, int(highest or 0))


_TIP_SQL = ("SELECT seq, at, actor, action, target_type, target_id, organization_id, CAST(data AS TEXT), "
            "prev_hash, hash FROM audit_events WHERE seq <= {p} ORDER BY seq DESC LIMIT 50")


def _authentic_tip(s: Session, head: AuditHeadRow | _Head, keys: ChainKeys) -> None:
    """Make sure the head points at an authentic event before linking to it.

    The head row lives in the database too: if someone moved it (to a row they inserted, or past a row they
    deleted), chain on from the newest event whose MAC holds instead, so writes never stop and ``verify``
    reports what was done. Costs one indexed read per append when nothing is wrong."""
    assert head.keyed_from is not None
    if head.seq < head.keyed_from:
        return  # the legacy head, sealed by the first anchor
    mac = keys.event_checker()
    sqlite = s.get_bind().dialect.name == "sqlite"
    cur = s.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(_TIP_SQL.format(p="?" if sqlite else "%s"), (head.seq,))
        for r in cur:  # row by row: the newest one holds when nothing is wrong
            if r[0] < head.keyed_from:
                return
            if mac(mac_body(*r[:9])) == r[9]:
                head.seq, head.hash = r[0], r[9]
                return
    finally:
        cur.close()


def _locked_head(s: Session) -> AuditHeadRow:
    return s.execute(select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update()).scalar_one()


def _remember(s: Session, head: AuditHeadRow | _Head) -> None:
    assert head.chain_id is not None and head.keyed_from is not None
    force = bool(s.info.get(_PENDING, (None,) * 5)[4])
    s.info[_PENDING] = (head.chain_id, head.keyed_from, head.seq, head.hash, force)


def _fields(seq: int, at: str, actor: Principal | None, action: str, target_type: str, target_id: object | None,
            organization_id: int | None, data: Mapping[str, Any] | None, prev: str, keys: ChainKeys
            ) -> dict[str, Any]:
    payload = json.loads(json.dumps(dict(data or {}), default=str))
    fields: dict[str, Any] = {
        "seq": seq, "at": at, "actor": actor.username if actor else None, "action": action,
        "target_type": target_type, "target_id": None if target_id is None else str(target_id),
        "organization_id": organization_id, "data": payload, "prev_hash": prev,
    }
    # the JSON column stores json.dumps(payload) (SQLAlchemy's serializer), and the MAC covers that text
    body = mac_body(seq, at, fields["actor"], action, target_type, fields["target_id"], organization_id,
                    json.dumps(payload), prev)
    fields["hash"] = keys.event_mac(body)
    return fields


def record(
    s: Session,
    actor: Principal | None,
    action: str,
    target_type: str,
    target_id: object | None = None,
    *,
    organization_id: int | None = None,
    data: Mapping[str, Any] | None = None,
) -> AuditEventRow:
    head = _locked_head(s)
    keys = _keyed(s, head)
    _authentic_tip(s, head, keys)
    at = utcnow().isoformat(timespec="microseconds")
    row = AuditEventRow(**_fields(_top(s, head) + 1, at, actor, action, target_type, target_id, organization_id,
                                  data, head.hash, keys))
    s.add(row)
    head.seq, head.hash = row.seq, row.hash
    s.flush()
    _remember(s, head)
    return row


@dataclass(slots=True)
class _Head:
    """The head row's columns, read and written with plain SQL by ``record_many``."""

    seq: int
    hash: str
    chain_id: str
    keyed_from: int


def _sql(s: Session, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """One statement on the session's connection, through the driver (no ORM, no autoflush)."""
    if s.get_bind().dialect.name != "sqlite":
        statement = statement.replace("?", "%s")
    cur = s.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(statement, params)
        return list(cur.fetchall()) if cur.description else []
    finally:
        cur.close()


_HEAD_SQL = "SELECT seq, hash, chain_id, keyed_from FROM audit_head WHERE id = 1"


def _plain_head(s: Session) -> _Head | None:
    """The locked head as plain values, or None where the ORM path must run: a chain not keyed yet, or a head
    row this session already holds as an object (which a plain UPDATE would leave stale)."""
    if any(isinstance(obj, AuditHeadRow) for obj in s.identity_map.values()):
        return None
    sqlite = s.get_bind().dialect.name == "sqlite"
    row = _sql(s, _HEAD_SQL if sqlite else _HEAD_SQL + " FOR UPDATE")[0]
    if row[2] is None or row[3] is None:
        return None
    return _Head(int(row[0]), str(row[1]), str(row[2]), int(row[3]))


def record_many(s: Session, events: list[tuple[Principal | None, str, str, object, int | None, Mapping[str, Any]]]
                ) -> None:
    """Append many events at once (actor, action, target type, target id, organization, data): one head
    update and one multi-row insert, for the group-committed submission path.

    The same steps as ``record`` (lock the head, check its tip's MAC, link past the highest row), through
    the driver rather than the ORM: the ORM's statements cost more than the events themselves on the
    submission path (a profile under load: 70 % of a batch's write in head lock, ``max(seq)`` and flush)."""
    if not events:
        return
    s.flush()  # pending rows first, as the ORM path's autoflush would
    head: _Head | AuditHeadRow
    plain = _plain_head(s)
    if plain is None:
        head = _locked_head(s)
        keys = _keyed(s, head)
    else:
        head, keys = plain, seal_of(s).keys(plain.chain_id)
    _authentic_tip(s, head, keys)
    highest = _sql(s, "SELECT max(seq) FROM audit_events")[0][0]
    seq, prev = max(head.seq, int(highest or 0)), head.hash
    at = utcnow().isoformat(timespec="microseconds")
    rows = []
    for actor, action, target_type, target_id, org, data in events:
        seq += 1
        fields = _fields(seq, at, actor, action, target_type, target_id, org, data, prev, keys)
        prev = fields["hash"]
        rows.append(fields)
    s.execute(insert(cast(Table, AuditEventRow.__table__)), rows)
    head.seq, head.hash = seq, prev
    if isinstance(head, AuditHeadRow):
        s.flush()
    else:
        _sql(s, "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (seq, prev))
    _remember(s, head)


def start(s: Session) -> None:
    """At server start: make the key if there is none and key (and anchor) a chain that has no key yet."""
    head = _locked_head(s)
    seal_of(s).master()
    _keyed(s, head)


@event.listens_for(Session, "after_commit")
def _anchor_committed(s: Session) -> None:
    pending = s.info.pop(_PENDING, None)
    if pending is not None:
        chain_id, keyed_from, seq, mac, force = pending
        seal_of(s).note(chain_id, keyed_from, seq, mac, force=force)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(s: Session) -> None:
    s.info.pop(_PENDING, None)


_PAGE = 20_000


_ROWS_SQL = ("SELECT seq, at, actor, action, target_type, target_id, organization_id, CAST(data AS TEXT), "
             "prev_hash, hash FROM audit_events WHERE seq > {p} ORDER BY seq LIMIT {n}")


def _rows(s: Session) -> Iterator[EventRow]:
    """Rows in sequence order, a page at a time (keyset), as the driver's plain tuples with the data column's
    stored text. The driver's cursor, inside the session's transaction (one snapshot), skips SQLAlchemy's
    per-row work: reading was two thirds of verifying a million events."""
    sqlite = s.get_bind().dialect.name == "sqlite"
    sql = _ROWS_SQL.format(p="?" if sqlite else "%s", n=_PAGE)
    cur = s.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        after = -1
        while True:
            cur.execute(sql, (after,))
            page = cur.fetchall()
            yield from page
            if len(page) < _PAGE:
                return
            after = page[-1][0]
    finally:
        cur.close()


def verify(s: Session, actor: Principal) -> Verification:
    """The chain checked with the key and against the anchors outside the database (center admins)."""
    actor.require_center_admin()
    head = s.execute(select(AuditHeadRow).where(AuditHeadRow.id == 1)).scalar_one()
    keys = seal_of(s).keys(head.chain_id) if head.chain_id else None
    found = seal_of(s).read_anchors(keys) if keys else None
    return verify_records(_rows(s), head.seq, head.hash, keys=keys, keyed_from=head.keyed_from,
                          anchors=found.anchors if found else (), anchor_problems=found.problems if found else (),
                          anchors_expected=keys is not None)


def list_events(
    s: Session,
    actor: Principal,
    *,
    after: int | None,
    limit: int,
    organization_id: int | None = None,
    action: str | None = None,
) -> list[AuditEventRow]:
    """Center admins see everything; organization admins see their organizations' events; data custodians
    also see every event about their datasets (grants, jobs on the data, outputs, downloads), whoever's it is."""
    q = select(AuditEventRow).order_by(AuditEventRow.seq)
    if not actor.is_center_admin:
        from aicc.core.tenancy import OrgRole
        from aicc.services.datazone.trail import custodian_condition

        admin_of = [o for o in actor.org_roles if actor.is_org_admin(o)]
        custodian_of = [o for o, r in actor.org_roles.items() if r in (OrgRole.DATA_CUSTODIAN, OrgRole.ORG_ADMIN)]
        if not admin_of and not custodian_of:
            actor.require_center_admin()
        q = q.where(AuditEventRow.organization_id.in_(admin_of) | custodian_condition(s, custodian_of))
    if organization_id is not None:
        q = q.where(AuditEventRow.organization_id == organization_id)
    if action:
        q = q.where(AuditEventRow.action == action)
    if after is not None:
        q = q.where(AuditEventRow.seq > after)
    return list(s.execute(q.limit(limit)).scalars())


def export_csv(rows: list[AuditEventRow]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["seq", "at", "actor", "action", "target_type", "target_id", "organization_id", "data", "hash"])
    for r in rows:
        w.writerow([r.seq, r.at, r.actor, r.action, r.target_type, r.target_id, r.organization_id,
                    json.dumps(r.data, ensure_ascii=False, sort_keys=True), r.hash])
    return out.getvalue()
