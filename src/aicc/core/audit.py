"""The tamper-evident chain behind the audit log, and what checks it.

Two schemes share one chain. *Legacy* events (before a center first started with an audit key) carry a
plain SHA-256 over their content and the previous event's hash: anyone who can write the database can
recompute those, so they are only trusted up to the legacy head recorded in the first anchor. *Keyed*
events carry an HMAC-SHA256 under a key kept outside the database: a database writer can delete, edit or
insert rows but cannot make them verify. The head is anchored outside the database too (signed
checkpoints in an append-only file), so cutting the tail or moving the head back is seen as well.

Keyed rows may skip sequence numbers: when a stray row occupies the next number the writer takes the one
after it and links to the real head, so a stray row is reported but never blocks writes. What proves that
nothing was deleted is the link (each MAC covers the previous MAC), not the numbering.

Pure functions: the store appends and reads, ``verify_chain`` checks the rows and anchors it is given.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

GENESIS = "0" * 64
ANCHOR_VERSION = 1
MAX_PROBLEMS = 200


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
    data_text: str | None = None
    """The data column's text exactly as stored; keyed MACs cover it byte for byte (None for legacy)."""


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
    """The legacy (unkeyed) scheme: SHA-256 over the canonical JSON of the event."""
    body = json.dumps(
        [seq, at, actor, action, target_type, target_id, organization_id, data, prev_hash],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def mac_body(seq: int, at: str, actor: str | None, action: str, target_type: str, target_id: str | None,
             organization_id: int | None, data_text: str, prev_hash: str) -> bytes:
    """What a keyed MAC covers: every column, the data as its stored text, and the previous MAC.

    A JSON array of scalars is unambiguous (no field can borrow another's bytes) and cheap to build,
    which matters when a million events are verified.
    """
    return _encode((seq, at, actor, action, target_type, target_id, organization_id, data_text,
                    prev_hash)).encode()


@dataclass(frozen=True, slots=True)
class ChainKeys:
    """Keys for one chain, derived from the center's audit key and the chain's id, one per purpose."""

    chain_id: str
    event: bytes
    anchor: bytes

    @classmethod
    def derive(cls, master: bytes, chain_id: str) -> ChainKeys:
        def sub(purpose: str) -> bytes:
            return hmac.new(master, f"aicc-audit/{purpose}/{chain_id}".encode(), hashlib.sha256).digest()

        return cls(chain_id, sub("event"), sub("anchor"))

    def event_mac(self, body: bytes) -> str:
        return hmac.new(self.event, body, hashlib.sha256).hexdigest()

    def event_checker(self) -> Callable[[bytes], str]:
        """HMAC-SHA256 under the event key with the padded key states computed once: the same MAC as
        ``event_mac`` (RFC 2104), at about half the cost per event, which is what verify spends time on."""
        block = self.event.ljust(64, b"\0")
        inner0 = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        outer0 = hashlib.sha256(bytes(b ^ 0x5C for b in block))

        def mac(body: bytes) -> str:
            inner = inner0.copy()
            inner.update(body)
            outer = outer0.copy()
            outer.update(inner.digest())
            return outer.hexdigest()

        return mac


@dataclass(frozen=True, slots=True)
class Anchor:
    """A checkpoint of the head kept outside the database: event ``seq`` has MAC ``mac``."""

    chain_id: str
    seq: int
    mac: str
    keyed_from: int
    at: str


def _anchor_payload(a: Anchor) -> bytes:
    return _encode((ANCHOR_VERSION, a.chain_id, a.seq, a.mac, a.keyed_from, a.at)).encode()


def anchor_line(keys: ChainKeys, a: Anchor) -> str:
    sig = hmac.new(keys.anchor, _anchor_payload(a), hashlib.sha256).hexdigest()
    return json.dumps({"v": ANCHOR_VERSION, "chain": a.chain_id, "seq": a.seq, "mac": a.mac,
                       "keyed_from": a.keyed_from, "at": a.at, "sig": sig}, separators=(",", ":")) + "\n"


@dataclass(frozen=True, slots=True)
class ChainProblem:
    seq: int
    problem: str


@dataclass(slots=True)
class AnchorFile:
    """The anchors of one chain read from the file, and what was wrong with the other lines."""

    anchors: list[Anchor] = field(default_factory=list)
    problems: list[ChainProblem] = field(default_factory=list)
    other_chains: int = 0


def parse_anchors(lines: Iterable[str], keys: ChainKeys, source: str) -> AnchorFile:
    """Keep the anchors of ``keys``' chain whose signature holds; a bad line is a problem, not a crash."""
    out = AnchorFile()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            a = Anchor(str(d["chain"]), int(d["seq"]), str(d["mac"]), int(d["keyed_from"]), str(d["at"]))
            sig = str(d["sig"])
        except (ValueError, KeyError, TypeError):
            out.problems.append(ChainProblem(0, f"{source} line {n} is not an anchor (the file was edited)"))
            continue
        if a.chain_id != keys.chain_id:
            out.other_chains += 1
            continue
        want = hmac.new(keys.anchor, _anchor_payload(a), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, sig):
            out.problems.append(ChainProblem(a.seq, f"{source} line {n}: the anchor's signature does not hold "
                                                    "(the anchor file was edited)"))
            continue
        out.anchors.append(a)
    return out


@dataclass(slots=True)
class Verification:
    problems: list[ChainProblem]
    events: int
    """Authentic events on the chain (rows that verify and link)."""
    last_seq: int
    anchors: int
    keyed_from: int | None
    more_problems: int = 0
    """Problems found beyond the first ``MAX_PROBLEMS`` (counted, not listed)."""

    @property
    def intact(self) -> bool:
        return not self.problems


EventRow = tuple[int, str, "str | None", str, str, "str | None", "int | None", "str | Mapping[str, Any]", str, str]
"""(seq, at, actor, action, target_type, target_id, organization_id, data, prev_hash, hash): a row as read.
``data`` is the stored text (what keyed MACs cover) or, for legacy rows only, the decoded mapping."""


class _Walk:
    """The state of one pass over the rows: what the next authentic row must link to."""

    def __init__(self, keys: ChainKeys | None, keyed_from: int | None, anchored: Mapping[int, Anchor]) -> None:
        self.keys, self.keyed_from, self.anchored = keys, keyed_from, anchored
        self.first_keyed = keyed_from if keyed_from is not None else 2**63
        self.mac = keys.event_checker() if keys is not None else (lambda _body: "")
        self.problems: list[ChainProblem] = []
        self.more = 0
        self.prev, self.last_seq, self.events = GENESIS, 0, 0
        self.bad_from: int | None = None
        self.bad_to = 0
        self.bad_n = 0
        self.bad_hash = ""
        self.matched: set[int] = set()

    def report(self, seq: int, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(ChainProblem(seq, problem))
        else:
            self.more += 1

    def close_bad_run(self, how: str) -> None:
        """Report the rows since the last authentic one that failed their check.

        ``how``: "edited" when the next authentic row links to the last of them (they were changed in
        place), "inserted" when it links past them (they were never on the chain), else "unknown".
        """
        if self.bad_from is None:
            return
        keyed = self.keyed_from is not None and self.bad_from >= self.keyed_from
        rows = f"event {self.bad_from}" if self.bad_n == 1 else \
            f"events {self.bad_from}..{self.bad_to} ({self.bad_n} rows)"
        check = "MAC" if keyed else "hash"
        if how == "inserted":
            what = (f"{rows}: not written by AICC (no valid {check}; inserted into the log) - ignored, the chain "
                    f"continues from event {self.last_seq}")
        elif how == "edited":
            what = f"{rows}: content does not match the {check} (row edited)"
        else:
            what = f"{rows}: does not match the {check}" + (
                ": edited, or written without the audit key" if keyed else " (edited)")
        self.report(self.bad_from, what)
        self.bad_from = None

    def row(self, r: EventRow) -> None:
        seq, mac = r[0], r[9]
        keyed = seq >= self.first_keyed
        if keyed:
            ok = isinstance(r[7], str) and self.mac(_encode(r[:9]).encode()) == mac
        else:
            data = json.loads(r[7]) if isinstance(r[7], str) else r[7]
            ok = event_hash(seq=seq, at=r[1], actor=r[2], action=r[3], target_type=r[4], target_id=r[5],
                            organization_id=r[6], data=data, prev_hash=r[8]) == mac
        if not ok:
            if self.bad_from is None:
                self.bad_from, self.bad_n = seq, 0
            self.bad_to, self.bad_n, self.bad_hash = seq, self.bad_n + 1, mac
            return  # not (provably) on the chain: the next authentic row tells what it was
        link = r[8]
        if keyed and link == self.prev and self.bad_from is None and seq not in self.anchored:
            self.prev, self.last_seq = mac, seq  # the common case, kept short: a million of these
            self.events += 1
            return
        last_seq, prev = self.last_seq, self.prev
        if self.bad_from is not None:
            if link == self.bad_hash and link != self.prev:
                last_seq, prev = self.bad_to, self.bad_hash  # edited in place: the links around them hold
                self.close_bad_run("edited")
            else:
                self.close_bad_run("inserted" if link == self.prev else "unknown")
        if link != prev:
            if keyed:
                self.report(seq, f"event {seq} links to a predecessor that is not event {last_seq} "
                                 f"(the last authentic one): events between {last_seq} and {seq} "
                                 "were deleted or replaced")
            else:
                self.report(seq, f"event {seq}: previous-hash link broken (a row before it changed or vanished)")
        if not keyed and seq != last_seq + 1:
            kind = "missing (deleted)" if seq > last_seq + 1 else "duplicated or reordered"
            self.report(last_seq + 1, f"event {last_seq + 1} {kind}; next found is {seq}")
        anchor = self.anchored.get(seq)
        if anchor is not None:
            self.matched.add(seq)
            if anchor.mac != mac:
                self.report(seq, f"event {seq} differs from its anchor of {anchor.at}: the anchor records "
                                 f"{anchor.mac[:16]}…, the log {mac[:16]}… (the log was rewritten up to here)")
        self.prev, self.last_seq = mac, seq
        self.events += 1


def _as_row(r: AuditRecord) -> EventRow:
    return (r.seq, r.at, r.actor, r.action, r.target_type, r.target_id, r.organization_id,
            r.data_text if r.data_text is not None else r.data, r.prev_hash, r.hash)


def verify_chain(
    records: Iterable[AuditRecord | EventRow],
    head_seq: int,
    head_hash: str,
    *,
    keys: ChainKeys | None = None,
    keyed_from: int | None = None,
    anchors: Sequence[Anchor] = (),
    anchor_problems: Sequence[ChainProblem] = (),
    anchors_expected: bool = False,
) -> list[ChainProblem]:
    """Every problem found, first divergence first; an empty list means the log is intact."""
    return verify(records, head_seq, head_hash, keys=keys, keyed_from=keyed_from, anchors=anchors,
                  anchor_problems=anchor_problems, anchors_expected=anchors_expected).problems


def verify(
    records: Iterable[AuditRecord | EventRow],
    head_seq: int,
    head_hash: str,
    *,
    keys: ChainKeys | None = None,
    keyed_from: int | None = None,
    anchors: Sequence[Anchor] = (),
    anchor_problems: Sequence[ChainProblem] = (),
    anchors_expected: bool = False,
) -> Verification:
    """Check rows (in sequence order) against the keys, the anchors and the head row.

    ``keyed_from``: the first sequence number under the keyed scheme (None: the whole log is legacy).
    ``anchors_expected``: the chain is keyed, so finding no anchor at all is itself a problem.
    """
    if keyed_from is not None and keys is None:
        raise ValueError("a keyed chain needs its keys")
    # the newest anchor per sequence number decides; an anchor of seq 0 is the empty chain
    anchored = {a.seq: a for a in anchors if a.seq > 0}
    walk = _Walk(keys, keyed_from, anchored)
    for rec in records:
        walk.row(_as_row(rec) if isinstance(rec, AuditRecord) else rec)
    walk.close_bad_run("unknown" if anchored and max(anchored) > walk.last_seq else "inserted")
    for a in anchors:
        if a.keyed_from != keyed_from:
            walk.report(a.seq, f"the anchor of {a.at} says keyed MACs start at event {a.keyed_from}, the database "
                               f"says {keyed_from} (the database's bookkeeping was changed)")
            break
    for seq in sorted(set(anchored) - walk.matched):
        a = anchored[seq]
        if seq > walk.last_seq:
            walk.report(seq, f"the log ends at event {walk.last_seq} but the anchor of {a.at} records event {seq}: "
                             f"events after {walk.last_seq} were deleted (tail truncated below the anchor)")
        else:
            walk.report(seq, f"event {seq}, anchored at {a.at}, is missing or not authentic")
    if anchors_expected and not anchors:
        walk.report(walk.last_seq, "no anchor of this chain was found outside the database: its head cannot be "
                                   "checked (anchor file missing, replaced or written elsewhere)")
    if (walk.last_seq, walk.prev) != (head_seq, head_hash):
        walk.report(head_seq, f"chain ends at event {walk.last_seq} but the head records {head_seq}"
                              + ("" if walk.last_seq != head_seq else " with another MAC (the head was moved)"))
    problems = sorted([*anchor_problems, *walk.problems], key=lambda p: p.seq)
    return Verification(problems, walk.events, walk.last_seq, len(anchors), keyed_from, walk.more)
