"""Datasets: classification, column roles, keyed pseudonyms and k-anonymity.

A custodian marks which columns identify a person directly (replaced by keyed
pseudonyms before any grantee sees them) and which identify in combination
(quasi-identifiers, whose smallest equivalence class is the k of k-anonymity).
The pseudonym key belongs to the center, never to a project, so a grantee can
link rows within a dataset but cannot reverse or recompute the pseudonyms.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from aicc.core.datazone.decode import normalise
from aicc.core.errors import InvalidInput

DEFAULT_K = 5
PSEUDONYM_BYTES = 12  # 96 bits: collision-free for any dataset a center holds, short enough to read


class Classification(enum.StrEnum):
    OPEN = "open"
    SENSITIVE = "sensitive"


class ColumnRole(enum.StrEnum):
    IDENTIFIER = "identifier"
    QUASI_IDENTIFIER = "quasi_identifier"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    role: ColumnRole


def parse_columns(raw: Sequence[Mapping[str, str]]) -> list[Column]:
    """Columns as the custodian declared them; names must be unique and non-empty."""
    if len(raw) > 1000:
        raise InvalidInput("columns: at most 1000")
    out: list[Column] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        name = str(item.get("name", "")).strip()
        if not name or len(name) > 128:
            raise InvalidInput(f"columns[{i}]: a name of 1 to 128 characters is required")
        if name in seen:
            raise InvalidInput(f"columns[{i}]: column {name!r} is declared twice")
        try:
            role = ColumnRole(item.get("role", "other"))
        except ValueError:
            raise InvalidInput(f"columns[{i}]: role must be one of {', '.join(r.value for r in ColumnRole)}") from None
        seen.add(name)
        out.append(Column(name, role))
    return out


def pseudonym(key: bytes, value: str) -> str:
    """A stable, keyed replacement for a direct identifier (HMAC-SHA256, truncated)."""
    digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).digest()[:PSEUDONYM_BYTES]
    return "p_" + digest.hex()


def pseudonymize(header: Sequence[str], rows: Iterable[Sequence[str]], identifiers: Iterable[str],
                 key: bytes) -> Iterable[list[str]]:
    """Rows with every identifier column replaced by its pseudonym; other columns untouched."""
    idx = [i for i, name in enumerate(header) if name in set(identifiers)]
    for row in rows:
        out = list(row)
        for i in idx:
            if i < len(out) and out[i] != "":
                out[i] = pseudonym(key, out[i])
        yield out


@dataclass(frozen=True, slots=True)
class KReport:
    """k-anonymity over the quasi-identifiers: k is the size of the smallest equivalence class."""

    quasi_identifiers: tuple[str, ...]
    rows: int
    classes: int
    k: int
    classes_below: int
    """Equivalence classes smaller than the required k."""
    rows_below: int
    required_k: int

    @property
    def ok(self) -> bool:
        return self.rows == 0 or self.k >= self.required_k

    def as_dict(self) -> dict[str, object]:
        return {"quasi_identifiers": list(self.quasi_identifiers), "rows": self.rows, "classes": self.classes,
                "k": self.k, "classes_below": self.classes_below, "rows_below": self.rows_below,
                "required_k": self.required_k, "ok": self.ok}


def k_anonymity(header: Sequence[str], rows: Iterable[Sequence[str]], quasi: Sequence[str],
                required_k: int = DEFAULT_K) -> KReport:
    """Count equivalence classes over ``quasi`` (columns missing from ``header`` are an error)."""
    missing = [q for q in quasi if q not in header]
    if missing:
        raise InvalidInput(f"quasi-identifier column(s) {', '.join(missing)} not in the data's header")
    idx = [header.index(q) for q in quasi]
    counts: Counter[tuple[str, ...]] = Counter()
    for row in rows:
        counts[tuple(row[i] if i < len(row) else "" for i in idx)] += 1
    if not counts:
        return KReport(tuple(quasi), 0, 0, 0, 0, 0, required_k)
    small = [c for c in counts.values() if c < required_k]
    return KReport(tuple(quasi), sum(counts.values()), len(counts), min(counts.values()), len(small), sum(small),
                   required_k)


def row_fingerprint(row: Sequence[str]) -> str:
    """A hash of a row's values (trimmed, in order), to spot dataset rows copied into an output."""
    joined = "\x1f".join(v.strip() for v in row)
    return hashlib.blake2b(joined.encode("utf-8"), digest_size=12).hexdigest()


def canonical_cell(value: str) -> str:
    """One spelling per value, so a copied row matches however it was re-written: normalised text (case,
    width, look-alikes, zero-width characters), and numbers as numbers ("3", "3.0" and " 3" are one)."""
    text = normalise(value.strip())
    if text and (text[0].isdigit() or text[0] in "-+."):
        try:
            number = float(text)
        except ValueError:
            return text
        if number.is_integer() and abs(number) < 1e15:
            return str(int(number))
        if number == number and abs(number) != float("inf"):
            return repr(number)
    return text


def record_fingerprint(values: Sequence[str]) -> str:
    """A hash of a record's canonical values in order: rows of the dataset are recorded at publication with
    and without their identifier columns, so a row copied out without its id still matches."""
    joined = "\x1f".join(canonical_cell(v) for v in values)
    return hashlib.blake2b(joined.encode("utf-8"), digest_size=12).hexdigest()


def identifier_token(value: str) -> str:
    """The part of an identifier value that identifies: normalised, without the ``p_`` pseudonym prefix."""
    token = normalise(value.strip())
    return token[2:] if token.startswith("p_") else token


def value_hash(token: str) -> str:
    return hashlib.blake2b(token.encode("utf-8"), digest_size=12).hexdigest()


@dataclass(slots=True)
class Prints:
    """What publication records of a dataset so that output checks can recognise its rows and people
    without keeping a copy of them: hashes only."""

    records: set[str]
    """record_fingerprint of every row, whole and without its identifier columns."""
    identifiers: set[str]
    """value_hash of every identifier value (the pseudonym a grantee sees, or the raw id when not
    pseudonymised), without its prefix."""
    identifier_lengths: set[int]
    columns: set[tuple[str, ...]]
    """The non-identifier columns of each table, in order: an output with these names in its header is
    compared column by column, whatever order it wrote them in."""

    @classmethod
    def empty(cls) -> Prints:
        return cls(set(), set(), set(), set())

    def add_table(self, header: Sequence[str], rows: Iterable[Sequence[str]], identifiers: Iterable[str]) -> int:
        ids = set(identifiers)
        id_idx = [i for i, h in enumerate(header) if h in ids]
        keep = [i for i, h in enumerate(header) if h not in ids]
        if id_idx and keep:
            self.columns.add(tuple(canonical_cell(header[i]) for i in keep))
        n = 0
        for row in rows:
            n += 1
            self.records.add(record_fingerprint(row))
            if id_idx:
                self.records.add(record_fingerprint([row[i] for i in keep if i < len(row)]))
                for i in id_idx:
                    if i < len(row) and row[i].strip():
                        token = identifier_token(row[i])
                        self.identifiers.add(value_hash(token))
                        self.identifier_lengths.add(len(token))
        return n

    def dump(self) -> dict[str, Sequence[object]]:
        return {"records": sorted(self.records), "identifiers": sorted(self.identifiers),
                "identifier_lengths": sorted(self.identifier_lengths), "columns": sorted(map(list, self.columns))}

    @classmethod
    def load(cls, raw: Mapping[str, Sequence[object]]) -> Prints:
        return cls({str(x) for x in raw.get("records", [])}, {str(x) for x in raw.get("identifiers", [])},
                   {int(str(x)) for x in raw.get("identifier_lengths", [])},
                   {tuple(str(c) for c in cols) for cols in raw.get("columns", []) if isinstance(cols, list)})
