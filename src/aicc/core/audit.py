"""The tamper-evident chain behind the audit log.

Each event's hash covers its content and the previous event's hash, so changing,
inserting or deleting any row breaks every hash after it; the head (last sequence
number and hash), kept apart, catches deletions at the tail. Pure functions: the
store appends, ``verify_chain`` checks rows it is given.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    at: str  # ISO 8601, UTC, as stored
    actor: str | None
    action: str
    target_type: str
    target_id: str | None
    organization_id: int | None
    data: Mapping[str, Any]
    prev_hash: str
    hash: str


def event_hash(
    *,
    seq: int,
    at: str,
    actor: str | None,
    action: str,
    target_type: str,
    target_id: str | None,
    organization_id: int | None,
    data: Mapping[str, Any],
    prev_hash: str,
) -> str:
    body = json.dumps(
        [seq, at, actor, action, target_type, target_id, organization_id, data, prev_hash],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainProblem:
    seq: int
    problem: str


def verify_chain(records: Iterable[AuditRecord], head_seq: int, head_hash: str) -> list[ChainProblem]:
    """Return every problem found; an empty list means the log is intact."""
    problems: list[ChainProblem] = []
    expected_seq, prev = 1, GENESIS
    for rec in records:
        if rec.seq != expected_seq:
            kind = "missing (deleted)" if rec.seq > expected_seq else "duplicated or reordered"
            problems.append(ChainProblem(expected_seq, f"event {expected_seq} {kind}; next found is {rec.seq}"))
        if rec.prev_hash != prev:
            problems.append(ChainProblem(rec.seq, "previous-hash link broken (a row before it changed or vanished)"))
        computed = event_hash(
            seq=rec.seq,
            at=rec.at,
            actor=rec.actor,
            action=rec.action,
            target_type=rec.target_type,
            target_id=rec.target_id,
            organization_id=rec.organization_id,
            data=rec.data,
            prev_hash=rec.prev_hash,
        )
        if computed != rec.hash:
            problems.append(ChainProblem(rec.seq, "content does not match its hash (row edited)"))
        expected_seq, prev = rec.seq + 1, rec.hash
    if expected_seq - 1 != head_seq or prev != head_hash:
        problems.append(
            ChainProblem(head_seq, f"chain ends at event {expected_seq - 1} but the head records {head_seq}")
        )
    return problems
