"""The hash chain notices every kind of tampering and says where."""

from __future__ import annotations

import dataclasses

from aicc.core.audit import GENESIS, AuditRecord, event_hash, verify_chain


def chain(n: int) -> list[AuditRecord]:
    out, prev = [], GENESIS
    for seq in range(1, n + 1):
        fields = dict(seq=seq, at=f"2026-11-23T00:00:0{seq}", actor="alice", action="job.submit",
                      target_type="job", target_id=str(seq), organization_id=1, data={"n": seq}, prev_hash=prev)
        rec = AuditRecord(**fields, hash=event_hash(**fields))  # type: ignore[arg-type]
        out.append(rec)
        prev = rec.hash
    return out


def test_intact_chain_has_no_problems() -> None:
    records = chain(5)
    assert verify_chain(records, 5, records[-1].hash) == []


def test_edited_row_is_named() -> None:
    records = chain(5)
    records[2] = dataclasses.replace(records[2], data={"n": 999})
    problems = verify_chain(records, 5, records[-1].hash)
    assert [p.seq for p in problems] == [3]
    assert "edited" in problems[0].problem


def test_deleted_row_is_detected() -> None:
    records = chain(5)
    del records[1]
    problems = verify_chain(records, 5, records[-1].hash)
    assert problems and problems[0].seq == 2 and "deleted" in problems[0].problem


def test_deleted_tail_is_detected_through_the_head() -> None:
    records = chain(5)
    problems = verify_chain(records[:4], 5, records[-1].hash)
    assert problems and "head records 5" in problems[-1].problem


def test_inserted_row_is_detected() -> None:
    records = chain(4)
    forged = dataclasses.replace(records[1], seq=2, data={"forged": True})
    records.insert(2, forged)
    assert verify_chain(records, 4, records[-1].hash)
