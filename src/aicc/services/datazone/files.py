"""Safe file handling for the data zone: paths from requests are never trusted.

Every path a user gives is resolved under a root the center configured; ``..``,
absolute paths and symlinks that lead outside are refused before anything is
read. Walking a tree never follows a symlink: a link is reported as a link.
"""

from __future__ import annotations

import csv
import hashlib
import os
import stat
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from aicc.core.datazone.checks import FileKind
from aicc.core.errors import InvalidInput

MAX_DATASET_FILES = 10_000
NAME_MAX = 255  # bytes in one path component, on every Linux file system
CSV_FIELD_LIMIT = 1 << 20


def resolve_under(root: Path, relative: str, what: str = "path") -> Path:
    """``root/relative`` if it names something inside ``root`` (symlinks resolved); else InvalidInput."""
    if not relative or "\x00" in relative or len(relative) > 1024:
        raise InvalidInput(f"{what}: give a relative path of 1 to 1024 characters")
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts:
        raise InvalidInput(f"{what}: {relative!r} must be relative to the data root, without '..'")
    long = next((part for part in pure.parts if len(part.encode("utf-8", "surrogateescape")) > NAME_MAX), None)
    if long is not None:
        raise InvalidInput(f"{what}: the component {long[:40]!r}… is longer than {NAME_MAX} bytes, which no "
                           "file system allows")
    root_real = root.resolve()
    try:
        target = (root_real / pure).resolve()
        target.stat()
    except FileNotFoundError:
        pass  # callers say what is missing in their own words
    except OSError as exc:
        raise InvalidInput(f"{what}: {relative!r} cannot be used ({exc.strerror or type(exc).__name__})") from None
    if target != root_real and root_real not in target.parents:
        raise InvalidInput(f"{what}: {relative!r} leads outside the data root (a symbolic link?)")
    return target


@dataclass(frozen=True, slots=True)
class Entry:
    path: str  # relative, "/"-separated
    kind: FileKind
    size: int


def walk(top: Path, *, limit: int = MAX_DATASET_FILES) -> list[Entry]:
    """Every entry under ``top`` without following links (lstat), sorted; directories are descended."""
    out: list[Entry] = []
    stack = [top]
    while stack:
        d = stack.pop()
        with os.scandir(d) as it:
            for e in it:
                st = e.stat(follow_symlinks=False)
                rel = Path(e.path).relative_to(top).as_posix()
                if stat.S_ISLNK(st.st_mode):
                    out.append(Entry(rel, FileKind.SYMLINK, 0))
                elif stat.S_ISDIR(st.st_mode):
                    stack.append(Path(e.path))
                elif stat.S_ISREG(st.st_mode):
                    out.append(Entry(rel, FileKind.FILE, st.st_size))
                else:
                    out.append(Entry(rel, FileKind.SPECIAL, 0))
                if len(out) > limit:
                    raise InvalidInput(f"more than {limit} files under {top.name}")
    return sorted(out, key=lambda x: x.path)


def sha256_of(path: Path) -> str:
    """Hash without following a symlink swapped in at the last moment."""
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_limited(path: Path, limit: int) -> bytes | None:
    """The file's bytes if it is a regular file no larger than ``limit``; None otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        data = f.read(limit + 1)
    return data if len(data) <= limit else None


def csv_rows(path: Path) -> tuple[list[str], Iterator[list[str]]]:
    """Header and rows of a CSV file (utf-8, BOM tolerated)."""
    csv.field_size_limit(CSV_FIELD_LIMIT)
    f = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed by the generator
    reader = csv.reader(f)
    try:
        header = next(reader, [])
    except (csv.Error, UnicodeDecodeError) as exc:
        f.close()
        raise InvalidInput(f"{path.name}: not a readable CSV file ({exc})") from None

    def rows() -> Iterator[list[str]]:
        with f:
            try:
                yield from reader
            except (csv.Error, UnicodeDecodeError) as exc:
                raise InvalidInput(f"{path.name}: not a readable CSV file ({exc})") from None

    return [h.strip() for h in header], rows()


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """A Content-Disposition header for any file name (RFC 6266): an ASCII fallback for old clients and the
    real name, UTF-8 and percent-encoded, in ``filename*`` (a Korean name cannot go into a header as it is)."""
    fallback = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)[:200] or "output"
    encoded = urllib.parse.quote(name.encode("utf-8", "backslashreplace"), safe="")[:2000]
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
