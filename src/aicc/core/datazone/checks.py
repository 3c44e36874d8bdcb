"""Automatic checks on a sensitive job's outputs, before any person looks at them.

Each check returns a status and reasons a custodian can read. ``fail`` means
the file cannot be released as it is (a symlink, a binary blob, a copy of the
data); ``review`` means a person must look (a table nobody checked for small
cells); ``pass`` means the automatic checks found nothing. The custodian
decides in every case: checks inform, they never release.
"""

from __future__ import annotations

import csv
import enum
import io
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from aicc.core.datazone.datasets import row_fingerprint

MAX_CSV_ROWS_CHECKED = 200_000
PSEUDONYM_RE = re.compile(r"\bp_[0-9a-f]{24}\b")


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
    """What the checks know of the datasets the job read."""

    identifier_columns: frozenset[str] = frozenset()
    row_fingerprints: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class FileFacts:
    path: str  # relative to the output directory, "/"-separated
    kind: FileKind
    size: int
    content: bytes | None = None  # read only for regular files within the size limit
    acro_status: str | None = None  # "pass" | "review" | "fail" from the job's ACRO session, when it made the table
    acro_detail: str = ""


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
    if PSEUDONYM_RE.search(text):
        result.add(CheckStatus.FAIL, "contains pseudonymised identifiers: row-level data about people")
    if TEXT_TYPES.get(ext) == "table":
        _check_table(text, "\t" if ext == ".tsv" else ",", f, data, result)
    elif f.acro_status in ("review", "fail"):
        result.add(CheckStatus(f.acro_status), "ACRO: " + (f.acro_detail or f.acro_status))
    return result


def _check_table(text: str, delimiter: str, f: FileFacts, data: DataKnowledge, result: CheckResult) -> None:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader, [])
        ids = sorted(set(h.strip() for h in header) & data.identifier_columns)
        if ids:
            result.add(CheckStatus.FAIL, f"has identifier column(s) {', '.join(ids)}: row-level data about people")
        copied = 0
        for n, row in enumerate(reader):
            if n >= MAX_CSV_ROWS_CHECKED:
                result.add(CheckStatus.REVIEW, f"only the first {MAX_CSV_ROWS_CHECKED} rows were compared")
                break
            if row_fingerprint(row) in data.row_fingerprints:
                copied += 1
    except csv.Error as exc:
        result.add(CheckStatus.REVIEW, f"could not be read as a table ({exc}); a person must look at it")
        return
    if copied:
        result.add(CheckStatus.FAIL, f"{copied} row(s) are copies of rows of the dataset")
    if f.acro_status is None:
        result.add(CheckStatus.REVIEW, "a table not produced through aicc.datazone (ACRO): small cells and "
                                       "dominance were not checked automatically")
    elif f.acro_status == "pass":
        result.reasons.append("pass: ACRO found no disclosure risk" + (f" ({f.acro_detail})" if f.acro_detail else ""))
    else:
        status = CheckStatus.FAIL if f.acro_status == "fail" else CheckStatus.REVIEW
        result.add(status, "ACRO: " + (f.acro_detail or f.acro_status))


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


def acro_statuses(results_json: Mapping[str, object], known: Collection[str]) -> dict[str, tuple[str, str]]:
    """Map ACRO's ``results.json`` onto output paths: path -> (status, summary).

    ACRO lists each output with a ``status`` and the ``files`` it wrote; only files
    that exist in the request (``known``) are kept, so a forged entry names nothing.
    """
    out: dict[str, tuple[str, str]] = {}
    results = results_json.get("results")
    if not isinstance(results, Mapping):
        return out
    for uid, entry in results.items():
        if not isinstance(entry, Mapping):
            continue
        status = str(entry.get("status", "review"))
        if status not in ("pass", "review", "fail"):
            status = "review"
        summary = str(entry.get("summary", "")).strip()[:300]
        for item in entry.get("files", []) or []:
            name = item.get("name") if isinstance(item, Mapping) else item
            if isinstance(name, str):
                path = "acro/" + name.rsplit("/", 1)[-1]
                if path in known:
                    out[path] = (status, f"{uid}: {summary}" if summary else str(uid))
    return out
