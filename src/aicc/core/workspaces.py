"""Workspaces in the domain's own words: which paths a request may name, and how big a project's workspace is.

Pure: no file system here. A path from a request is only ever a *name relative to a workspace*; it is
checked component by component before anything opens it, and the adapter (``aicc.workspaces.files``) then
walks it without following links, so a check here and a race there cannot combine into an escape.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from aicc.core.errors import DomainError, InvalidInput

GIB = 1 << 30
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255
RESERVED_PREFIX = ".aicc-"
"""Names the server keeps for itself inside a workspace directory tree (none today, kept for upload staging)."""


class QuotaExceeded(DomainError):
    """The workspace cannot take these bytes: refused before they are sent (or the file system said EDQUOT)."""

    status = 507
    title = "Workspace quota exceeded"


class StorageFull(DomainError):
    """The disk under the workspaces is full (ENOSPC without a quota reached): nothing was kept."""

    status = 507
    title = "Storage full"


class QuotaBelowUse(DomainError):
    """A quota change that would leave the workspace holding more than its new limit, refused unless forced."""

    status = 409
    title = "Quota below current use"


def check_path(raw: str, *, allow_root: bool = False) -> tuple[str, ...]:
    """The components of ``raw``, a path relative to a workspace, or InvalidInput saying why not.

    Refused: absolute paths, ``.``/``..``/empty components (``a//b``), NUL and other control characters,
    names that are not valid UTF-8 (lone surrogates from a decoded byte string), names longer than the
    file system allows, and the server's reserved prefix. ``allow_root``: the empty path (``""``, ``"/"``
    is still refused) names the workspace itself, for listing."""
    if raw == "" and allow_root:
        return ()
    if not raw:
        raise InvalidInput("a path is required")
    try:
        encoded = raw.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("path is not valid UTF-8") from None
    if "\ufffd" in raw:  # what a URL's invalid UTF-8 decodes to: the name the client meant is unknowable
        raise InvalidInput("path is not valid UTF-8 (it holds U+FFFD, the replacement character)")
    if len(encoded) > MAX_PATH_BYTES:
        raise InvalidInput(f"path is longer than {MAX_PATH_BYTES} bytes")
    if raw.startswith("/"):
        raise InvalidInput("path must be relative to the workspace (no leading '/')")
    parts = tuple(raw.split("/"))
    for part in parts:
        if part in ("", ".", ".."):
            raise InvalidInput("path components may not be empty, '.' or '..'")
        if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in part):
            raise InvalidInput("path contains control or invisible formatting characters")
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            raise InvalidInput(f"a path component is longer than {MAX_NAME_BYTES} bytes")
        if part.startswith(RESERVED_PREFIX):
            raise InvalidInput(f"names starting with {RESERVED_PREFIX!r} are reserved")
    return parts


@dataclass(frozen=True, slots=True)
class StorageGrant:
    """One source of a project's storage: an allocation (its ``storage_gib``, which an accepted program award
    sets to the awarded storage) active over a window."""

    storage_gib: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    suspended: bool = False
    allocation_id: int = 0

    def active(self, now: dt.datetime) -> bool:
        return not self.suspended and self.starts_at <= now < self.ends_at


def quota_bytes(grants: Iterable[StorageGrant], now: dt.datetime, default_gib: int) -> int:
    """The workspace's size limit: the sum of what its active allocations grant, never less than the center's
    default (a project without an allocation can still keep its code). Expired or suspended allocations
    grant nothing; data above the new limit stays (writes fail, new jobs are refused) until reduced."""
    granted = sum(g.storage_gib for g in grants if g.active(now))
    return max(granted, default_gib) * GIB


def check_quota_change(*, used: int, old_quota: int, new_quota: int, force: bool) -> bool:
    """The defined outcome of a quota change: True when the workspace ends up over its new limit (allowed only
    with ``force``: the data stays, writes fail with EDQUOT, the change is audited as a warning); a lowering
    below what the workspace holds without ``force`` raises :class:`QuotaBelowUse` and nothing changes. Raising
    a quota, or lowering it to a size still above use, is always fine."""
    if new_quota >= used or new_quota >= old_quota:
        return False
    if not force:
        raise QuotaBelowUse(f"the workspace holds {used} bytes; a quota of {new_quota} bytes would be below that. "
                            "Free space first, or repeat with force to keep the data over quota (writes then fail)")
    return True


def charged_grant(grants: Iterable[StorageGrant], now: dt.datetime) -> StorageGrant | None:
    """The allocation a workspace's storage is charged to: of the active ones, the one granting the most
    storage (an award's storage is paid from the award), then the one ending last, then the lowest id."""
    active = [g for g in grants if g.active(now)]
    if not active:
        return None
    return max(active, key=lambda g: (g.storage_gib, g.ends_at, -g.allocation_id))


def over_quota(used: int, quota: int, adding: int = 0) -> bool:
    return used + adding > quota


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One ``bytes=`` range of a file of ``size`` bytes as ``(start, end_inclusive)``; None serves it whole.

    Only single ranges are honoured (a multi-range request gets the whole file, which RFC 9110 allows).
    Raises ValueError for a range that cannot be satisfied (the API answers 416)."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    spec = header[len("bytes="):].strip()
    first, sep, last = spec.partition("-")
    if not sep:
        return None
    try:
        if first == "":
            n = int(last)
            if n <= 0:
                raise ValueError("empty suffix range")
            return max(size - n, 0), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        raise ValueError(f"bad range {header!r}") from None
    if start < 0 or start >= size or end < start:
        raise ValueError(f"range {header!r} is outside a file of {size} bytes")
    return start, min(end, size - 1)
