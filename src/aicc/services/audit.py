"""Append events to the hash-chained audit log inside the caller's transaction.

Appending in the same transaction as the change it describes means an event
exists exactly when its change committed. Locking the head row serializes
appends on PostgreSQL; SQLite serializes writers anyway.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from aicc.core.audit import AuditRecord, ChainProblem, event_hash, verify_chain
from aicc.services.principal import Principal
from aicc.store.models import AuditEventRow, AuditHeadRow, utcnow


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
    head = s.execute(select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update()).scalar_one()
    payload = json.loads(json.dumps(dict(data or {}), default=str))
    fields: dict[str, Any] = {
        "seq": head.seq + 1,
        "at": utcnow().isoformat(timespec="microseconds"),
        "actor": actor.username if actor else None,
        "action": action,
        "target_type": target_type,
        "target_id": None if target_id is None else str(target_id),
        "organization_id": organization_id,
        "data": payload,
        "prev_hash": head.hash,
    }
    row = AuditEventRow(**fields, hash=event_hash(**fields))
    s.add(row)
    head.seq, head.hash = row.seq, row.hash
    s.flush()
    return row


def record_many(s: Session, events: list[tuple[Principal | None, str, str, object, int | None, Mapping[str, Any]]]
                ) -> None:
    """Append many events at once (actor, action, target type, target id, organization, data): one head
    update and one multi-row insert, for the group-committed submission path."""
    if not events:
        return
    head = s.execute(select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update()).scalar_one()
    seq, prev = head.seq, head.hash
    at = utcnow().isoformat(timespec="microseconds")
    rows = []
    for actor, action, target_type, target_id, org, data in events:
        seq += 1
        fields: dict[str, Any] = {
            "seq": seq, "at": at, "actor": actor.username if actor else None, "action": action,
            "target_type": target_type, "target_id": None if target_id is None else str(target_id),
            "organization_id": org, "data": json.loads(json.dumps(dict(data), default=str)), "prev_hash": prev,
        }
        prev = event_hash(**fields)
        rows.append({**fields, "hash": prev})
    s.execute(insert(cast(Table, AuditEventRow.__table__)), rows)
    head.seq, head.hash = seq, prev
    s.flush()


def _records(s: Session) -> Iterator[AuditRecord]:
    rows = s.execute(select(AuditEventRow).order_by(AuditEventRow.seq).execution_options(yield_per=2000))
    for (r,) in rows:
        yield AuditRecord(
            r.seq, r.at, r.actor, r.action, r.target_type, r.target_id, r.organization_id, r.data, r.prev_hash, r.hash
        )


def verify(s: Session, actor: Principal) -> list[ChainProblem]:
    actor.require_center_admin()
    head = s.execute(select(AuditHeadRow).where(AuditHeadRow.id == 1)).scalar_one()
    return verify_chain(_records(s), head.seq, head.hash)


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
