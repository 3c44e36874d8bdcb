"""Automatic checks on a sensitive job's outputs, before any person looks at them.

Each check returns a status and reasons a custodian can read. ``fail`` means
the file cannot be released as it is (a symlink, a binary blob, a copy of the
data, a small count); ``review`` means a person must look (a table of means,
whose dominance no check can verify from the table alone); ``pass`` means the
automatic checks found nothing. The custodian decides in every case: checks
inform, they never release.

The checks run on the server, over the bytes the job left; nothing the job
wrote about itself is believed (a job-written ACRO ``results.json`` is just
another held file). They look through common disguises (base64, hex, reversal,
case, look-alike letters, zero-width characters, a dropped ``p_`` prefix: see
``decode``), recognise rows of the data without their identifier column (by the
fingerprints recorded at publication), and read ``.txt``, ``.md`` and ``.json``
tables like CSV (``tables``). Small cells are checked here the way ACRO's
threshold rule checks them: on the counts the table shows.
"""

from __future__ import annotations

import enum
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from aicc.core.datazone import decode, tables
from aicc.core.datazone.datasets import (
    canonical_cell,
    record_fingerprint,
    row_fingerprint,
    value_hash,
)

MAX_CSV_ROWS_CHECKED = tables.MAX_ROWS
PSEUDONYM_RE = re.compile(r"\bp_[0-9a-f]{24}\b")
REVERSED_PSEUDONYM_RE = re.compile(r"\b[0-9a-f]{24}_p\b")
TOKEN_SPLIT = re.compile(r"[+/=]")
DEFAULT_THRESHOLD = 10  # ACRO's default smallest count shown
TABLE_SUFFIXES = frozenset({".csv", ".tsv", ".txt", ".md", ".json"})


class CheckStatus(enum.StrEnum):
    PASS = "pass"  # noqa: S105 - a check outcome, not a password
    REVIEW = "review"
    FAIL = "fail"

    def worst(self, other: CheckStatus) -> CheckStatus:
        order = (CheckStatus.PASS, CheckStatus.REVIEW, CheckStatus.FAIL)
        return max(self, other, key=order.index)


class FileKind(enum.StrEnum):
    FILE = "file"
    SYMLINK = "symlink"
    DIRECTORY = "directory"
    SPECIAL = "special"  # fifo, socket, device


TEXT_TYPES = {".csv": "table", ".tsv": "table", ".txt": "text", ".log": "text", ".md": "text", ".json": "text",
              ".svg": "text", ".html": "text", ".tex": "text"}
BINARY_TYPES = {".png": b"\x89PNG\r\n\x1a\n", ".pdf": b"%PDF-"}


@dataclass(frozen=True, slots=True)
class OutputRules:
    """What may leave the zone; per dataset the strictest of its datasets' rules applies."""

    max_file_bytes: int = 10 * 1024 * 1024
    max_total_bytes: int = 100 * 1024 * 1024
    max_files: int = 200
    allowed_suffixes: frozenset[str] = frozenset({*TEXT_TYPES, *BINARY_TYPES})


@dataclass(frozen=True, slots=True)
class DataKnowledge:
    """What the checks know of the datasets the job read (hashes recorded at publication, never the data)."""

    identifier_columns: frozenset[str] = frozenset()
    row_fingerprints: frozenset[str] = frozenset()
    """row_fingerprint of each published row (as recorded before record fingerprints existed)."""
    record_fingerprints: frozenset[str] = frozenset()
    """record_fingerprint of each row, whole and without its identifier columns."""
    identifier_hashes: frozenset[str] = frozenset()
    identifier_lengths: frozenset[int] = frozenset()
    record_columns: frozenset[tuple[str, ...]] = frozenset()
    threshold: int = DEFAULT_THRESHOLD
    """Smallest count a table may show: the strictest of the datasets' settings."""


@dataclass(frozen=True, slots=True)
class FileFacts:
    path: str  # relative to the output directory, "/"-separated
    kind: FileKind
    size: int
    content: bytes | None = None  # read only for regular files within the size limit
    name_error: str = ""  # the name itself is unusable (not UTF-8): the file is held, never released


@dataclass(slots=True)
class CheckResult:
    status: CheckStatus = CheckStatus.PASS
    reasons: list[str] = field(default_factory=list)

    def add(self, status: CheckStatus, reason: str) -> None:
        self.status = self.status.worst(status)
        self.reasons.append(f"{status.value}: {reason}")

    def as_dict(self) -> dict[str, object]:
        return {"status": self.status.value, "reasons": list(self.reasons)}


def suffix(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name.strip(".") else ""


def check_file(f: FileFacts, rules: OutputRules, data: DataKnowledge) -> CheckResult:
    result = CheckResult()
    if f.name_error:
        result.add(CheckStatus.FAIL, f.name_error)
        return result
    name = CheckResult()
    _check_identifiers(f.path, data, name)
    if name.status is CheckStatus.FAIL:  # a name can carry a pseudonym as well as content can
        result.add(CheckStatus.FAIL, "its name " + name.reasons[0].removeprefix("fail: "))
    if f.kind is FileKind.SYMLINK:
        result.add(CheckStatus.FAIL, "a symbolic link is never released (it could point at the data)")
        return result
    if f.kind is not FileKind.FILE:
        result.add(CheckStatus.FAIL, f"a {f.kind.value} is not a regular file")
        return result
    ext = suffix(f.path)
    if ext not in rules.allowed_suffixes:
        allowed = ", ".join(sorted(rules.allowed_suffixes))
        result.add(CheckStatus.FAIL, f"file type {ext or '(none)'!r} is not allowed out of the zone ({allowed})")
    if f.size > rules.max_file_bytes:
        result.add(CheckStatus.FAIL, f"{f.size} bytes is over the limit of {rules.max_file_bytes} per file")
    if f.content is None or result.status is CheckStatus.FAIL:
        return result
    if ext in BINARY_TYPES:
        if not f.content.startswith(BINARY_TYPES[ext]):
            result.add(CheckStatus.FAIL, f"content is not a {ext[1:].upper()} file despite its name")
        else:
            result.add(CheckStatus.REVIEW, "an image or document: a person must look at it")
        return result
    if b"\x00" in f.content:
        result.add(CheckStatus.FAIL, "binary content in a text file")
        return result
    try:
        text = f.content.decode("utf-8")
    except UnicodeDecodeError:
        result.add(CheckStatus.FAIL, "text file is not valid UTF-8")
        return result
    blobs = _check_identifiers(text, data, result)
    if ext in TABLE_SUFFIXES:
        table = tables.parse(text, ext)
        if table is not None:
            _check_table(table, data, result)
        elif ext in (".csv", ".tsv"):
            result.add(CheckStatus.REVIEW, "could not be read as a table; a person must look at it")
    for blob in blobs:  # a table hidden in an encoded run: its rows are checked too
        hidden = tables.parse(blob, ".txt") or tables.parse(blob, ".csv")
        if hidden is not None and _copied_rows(hidden, data):
            result.add(CheckStatus.FAIL, "an encoded part of it decodes to rows of the dataset")
            break
    return result


def _check_identifiers(text: str, data: DataKnowledge, result: CheckResult) -> list[str]:
    """Pseudonyms and identifier values, in every variant of the text, forwards and backwards; returns the
    decoded runs (for the row checks)."""
    pseudonym_in: list[str] = []
    known_in: list[str] = []
    blobs: list[str] = []
    for how, variant in decode.variants(text):
        if how == "decoded":
            blobs.append(variant)
        if "p_" in variant and PSEUDONYM_RE.search(variant):
            pseudonym_in.append(how)
        elif "_p" in variant and REVERSED_PSEUDONYM_RE.search(variant):
            pseudonym_in.append("reversed" if how == "as written" else how)
        elif data.identifier_hashes and (found := _known_identifier(variant, data)):
            known_in.append(found if how == "as written" else how)
    if pseudonym_in:
        how = "" if pseudonym_in[0] == "as written" else f" ({pseudonym_in[0]})"
        result.add(CheckStatus.FAIL, f"contains pseudonymised identifiers{how}: row-level data about people")
    elif known_in:
        how = "" if known_in[0] == "as written" else f" ({known_in[0]})"
        result.add(CheckStatus.FAIL, f"contains identifiers of people in the dataset{how}")
    return blobs


def _known_identifier(text: str, data: DataKnowledge) -> str:
    """"as written" or "reversed" when a token of ``text`` is an identifier of the data; "" otherwise. Only
    tokens at least as long as the shortest identifier are looked at (C-speed ``findall``, then a set)."""
    shortest = min(data.identifier_lengths, default=1)
    if shortest >= 16 and text.isascii():  # every such token lies in a run of the encoded alphabet
        tokens = {t for run in decode.encoded_runs(text) for t in TOKEN_SPLIT.split(run) if len(t) >= shortest}
    else:
        tokens = set(re.findall(rf"[0-9a-z_\-]{{{shortest},}}", text))
    for how, seq in (("as written", tokens), ("reversed", {t[::-1] for t in tokens})):
        for token in seq:
            candidates = {token, token[2:]} if token.startswith("p_") else {token}
            if "_" in token:
                candidates.update(token.split("_"))
            for c in candidates:
                if len(c) in data.identifier_lengths and value_hash(c) in data.identifier_hashes:
                    return how
    return ""


def _copied_rows(table: tables.Table, data: DataKnowledge) -> int:
    if not (data.row_fingerprints or data.record_fingerprints):
        return 0
    header = [canonical_cell(h) for h in table.header]
    where = {h: i for i, h in enumerate(header)}
    projections = [[where[c] for c in cols] for cols in data.record_columns if all(c in where for c in cols)]
    copied = 0
    for row in table.rows:
        found = row_fingerprint(row) in data.row_fingerprints or record_fingerprint(row) in data.record_fingerprints
        for idx in projections:
            if found:
                break
            found = record_fingerprint([row[i] if i < len(row) else "" for i in idx]) in data.record_fingerprints
        copied += found
    return copied


def _check_table(table: tables.Table, data: DataKnowledge, result: CheckResult) -> None:
    wanted = {canonical_cell(c): c for c in data.identifier_columns}
    ids = sorted(wanted[h] for h in {canonical_cell(h) for h in table.header} if h in wanted)
    if ids:
        result.add(CheckStatus.FAIL, f"has identifier column(s) {', '.join(ids)}: row-level data about people")
    if table.truncated:
        result.add(CheckStatus.REVIEW, f"only the first {MAX_CSV_ROWS_CHECKED} rows were compared")
    copied = _copied_rows(table, data)
    if copied:
        result.add(CheckStatus.FAIL, f"{copied} row(s) are copies of rows of the dataset")
    counts, magnitudes = _numbers(table)
    small = sum(1 for c in counts if 0 < c < data.threshold)
    zeros = sum(1 for c in counts if c == 0)
    if small:
        result.add(CheckStatus.FAIL, f"{small} cell(s) count fewer than {data.threshold}: small counts can "
                                     "identify people (suppress or combine them)")
    if zeros:
        result.add(CheckStatus.REVIEW, f"{zeros} cell(s) are zero: an empty group can disclose something "
                                       "about everyone outside it")
    if magnitudes:
        result.add(CheckStatus.REVIEW, "has values that are not counts (means, sums, rates): dominance and "
                                       "the p-ratio rule need the underlying data; a person must check them")
    elif not counts:
        result.add(CheckStatus.REVIEW, "a table without counts: a person must look at it")
    elif not (small or zeros or copied or ids):
        result.reasons.append(f"pass: every count is at least {data.threshold}")


def _numbers(table: tables.Table) -> tuple[list[int], int]:
    """The counts (non-negative whole numbers) of the table's numeric columns, and how many other numbers
    it shows. A column with any word in it holds labels and is skipped (``40s``, ``F``, ``copd``); so is a
    first column that counts up by one (an index: epochs, years, row numbers), as a person reads it."""
    width = max((len(r) for r in table.rows), default=0)
    counts: list[int] = []
    magnitudes = 0
    for col in range(width):
        cells = [r[col].strip() for r in table.rows if col < len(r) and r[col].strip()]
        values: list[float] = []
        for cell in cells:
            try:
                values.append(float(cell.replace(",", "")))
            except ValueError:
                values = []
                break
        if col == 0 and len(values) > 1 and all(b - a == 1 for a, b in itertools.pairwise(values)):
            continue
        for cell, v in zip(cells, values, strict=False):  # values is empty for a label column
            if v >= 0 and v.is_integer() and not any(c in cell for c in ".eE"):  # "1.0000" is a magnitude
                counts.append(int(v))
            else:
                magnitudes += 1
    return counts, magnitudes


def check_request(files: Sequence[FileFacts], rules: OutputRules, data: DataKnowledge) -> dict[str, CheckResult]:
    """Check each file, plus the limits that concern the request as a whole."""
    results = {f.path: check_file(f, rules, data) for f in files}
    total = sum(f.size for f in files if f.kind is FileKind.FILE)
    if total > rules.max_total_bytes:
        for r in results.values():
            r.add(CheckStatus.FAIL, f"the job's outputs total {total} bytes, over the limit of "
                                    f"{rules.max_total_bytes}")
    if len(files) > rules.max_files:
        for r in results.values():
            r.add(CheckStatus.FAIL, f"the job wrote {len(files)} files, over the limit of {rules.max_files}")
    return results
