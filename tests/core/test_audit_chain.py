"""The hash chain notices every kind of tampering and says where."""

from __future__ import annotations

import dataclasses
import hashlib

from aicc.core.audit import (
    GENESIS,
    Anchor,
    AuditRecord,
    ChainKeys,
    EventRow,
    anchor_line,
    event_hash,
    mac_body,
    parse_anchors,
    verify_chain,
)


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


def test_the_fast_event_checker_computes_the_same_hmac_as_the_standard_library() -> None:
    import hashlib
    import hmac

    keys = ChainKeys.derive(b"k" * 32, "chain")
    for body in (b"", b"x", b"y" * 200, "한국어".encode()):
        assert keys.event_checker()(body) == hmac.new(keys.event, body, hashlib.sha256).hexdigest()


def keyed_chain(keys: ChainKeys, n: int) -> list[EventRow]:
    out: list[EventRow] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        row = (seq, "2026-12-01T00:00:00", "alice", "job.submit", "job", str(seq), 1, '{"n": 1}', prev)
        mac = keys.event_mac(mac_body(*row))
        out.append((*row, mac))
        prev = mac
    return out


def test_a_keyed_row_reforged_without_the_key_and_a_row_inserted_past_the_head_are_named() -> None:
    keys = ChainKeys.derive(b"k" * 32, "chain")
    rows = keyed_chain(keys, 4)
    assert verify_chain(rows, 4, rows[-1][9], keys=keys, keyed_from=1) == []
    forged = (*rows[1][:7], '{"n": 2}', rows[1][8], hashlib.sha256(b"anything").hexdigest())
    found = verify_chain([rows[0], forged, *rows[2:]], 4, rows[-1][9], keys=keys, keyed_from=1)
    assert found[0].seq == 2 and "does not match the MAC" in found[0].problem
    stray = (5, "2026-12-01T00:00:00", "mallory", "x", "x", None, None, "{}", rows[-1][9], "f" * 64)
    found = verify_chain([*rows, stray], 4, rows[-1][9], keys=keys, keyed_from=1)
    assert [(p.seq, "not written by AICC" in p.problem) for p in found] == [(5, True)]


def test_anchors_catch_a_truncated_tail_and_a_wrong_key_finds_nothing_authentic() -> None:
    keys = ChainKeys.derive(b"k" * 32, "chain")
    rows = keyed_chain(keys, 5)
    anchors = parse_anchors([anchor_line(keys, Anchor("chain", 5, rows[-1][9], 1, "t"))], keys, "anchors").anchors
    found = verify_chain(rows[:3], 3, rows[2][9], keys=keys, keyed_from=1, anchors=anchors)
    assert len(found) == 1 and "tail truncated below the anchor" in found[0].problem
    other = ChainKeys.derive(b"z" * 32, "chain")
    found = verify_chain(rows, 5, rows[-1][9], keys=other, keyed_from=1)
    assert found[0].seq == 1 and "events 1..5" in found[0].problem
