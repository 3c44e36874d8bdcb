"""Resumable uploads into a workspace: declare, send parts at the offset the server has, finish with a checksum.

A client declares the path, the size and (best) the SHA-256 first; the size is checked against the room
left in the workspace before a byte is sent. Parts are appended to ``.uploads/<id>.part``, which is inside
the quota, so the file system stops an upload that would overrun it even if the declaration lied. A broken
connection loses nothing that reached the disk: the client asks for the offset and sends the rest. A full disk
(not the quota: ENOSPC) is refused at declaration when the free space already says so, and a part that meets it
discards the whole upload (a resumable upload cannot finish on a disk with no room; the caller audits). The
digest is kept running while the server lives, so finishing a 2 GiB upload does not read it again; after a
restart it is recomputed from the part file. Finishing verifies the digest and renames the part into place.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import stat
import threading
import time
from dataclasses import dataclass
from typing import Any

from aicc.core.errors import Conflict, InvalidInput, NotFound
from aicc.core.workspaces import QuotaExceeded, StorageFull, check_path
from aicc.workspaces import files
from aicc.workspaces.layout import Workspace

UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
XATTR = "trusted.aicc.sha256"
"""``<size>:<mtime_ns>:<hex>`` on files AICC wrote or hashed; ``trusted.`` so only root sets or reads it."""

_digests: dict[tuple[str, str], tuple[int, Any]] = {}
_digests_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Upload:
    id: str
    path: str
    size: int
    offset: int
    sha256: str | None
    overwrite: bool


def _state(uploads_fd: int, upload_id: str) -> dict[str, Any]:
    if not UPLOAD_ID.match(upload_id):
        raise NotFound("upload not found")
    try:
        with files.opened(f"{upload_id}.json", os.O_RDONLY | os.O_NOFOLLOW, dir_fd=uploads_fd) as fd:
            data: dict[str, Any] = json.loads(os.read(fd, 1 << 16))
    except FileNotFoundError:
        raise NotFound("upload not found (finished, aborted or never started)") from None
    return data


def _part_size(uploads_fd: int, upload_id: str) -> int:
    st = files.lstat_at(uploads_fd, f"{upload_id}.part")
    return st.st_size if st is not None else 0


def pending_bytes(ws: Workspace) -> int:
    """Bytes promised to uploads in progress but not yet sent: reserved against the quota."""
    total = 0
    with files.opened(ws.uploads) as up:
        for name in os.listdir(up):
            if name.endswith(".json"):
                with contextlib.suppress(NotFound, ValueError, OSError):
                    uid = name[:-5]
                    total += max(int(_state(up, uid)["size"]) - _part_size(up, uid), 0)
    return total


def create(ws: Workspace, raw: str, size: int, sha256: str | None, *, overwrite: bool, room: int,
           user: str) -> Upload:
    """Declare an upload. ``room``: quota minus what the workspace holds now; refused if ``size`` does not fit
    beside the other uploads in progress (a file it replaces frees its own size)."""
    parts = check_path(raw)
    if sha256 is not None and not SHA256.match(sha256):
        raise InvalidInput("sha256 must be 64 lowercase hexadecimal digits")
    with files.opened(ws.files) as root:
        replaced = 0
        with contextlib.suppress(NotFound, InvalidInput):
            existing = files.stat_path(root, raw)
            if existing.kind == "dir":
                raise Conflict(f"{raw!r} is a directory")
            if not overwrite:
                raise Conflict(f"{raw!r} already exists (overwrite it explicitly)")
            replaced = existing.size
    need = size - replaced + pending_bytes(ws)
    if need > room:
        raise QuotaExceeded(f"{size} bytes do not fit: {max(room, 0)} bytes are left in the workspace"
                            f"{' beside uploads in progress' if need > size - replaced else ''}; nothing was sent")
    free = disk_free(ws)
    if size - replaced > free:
        raise StorageFull(f"{size} bytes do not fit: the disk under the workspaces has {free} bytes free; "
                          "nothing was sent")
    upload_id = secrets.token_hex(16)
    state = {"path": "/".join(parts), "size": size, "sha256": sha256, "overwrite": overwrite, "user": user,
             "created": time.time()}
    with files.opened(ws.uploads) as up:
        try:
            for name, content in ((f"{upload_id}.part", b""), (f"{upload_id}.json", json.dumps(state).encode())):
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                             dir_fd=up)
                try:
                    if content:  # the state must be whole on disk, or the upload is not begun
                        os.write(fd, content)
                        os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:  # nothing half-made stays behind: neither an empty part nor a cut state
            _discard(up, upload_id)
            raise files.storage_error(exc, "starting the upload") from exc
    with _digests_lock:
        _digests[(str(ws.container), upload_id)] = (0, hashlib.sha256())
    return Upload(upload_id, "/".join(parts), size, 0, sha256, overwrite)


def disk_free(ws: Workspace) -> int:
    """Bytes an unprivileged writer may still put on the disk under the workspace (``statvfs``)."""
    st = os.statvfs(ws.uploads)
    return st.f_bavail * st.f_frsize


def _discard(uploads_fd: int, upload_id: str) -> None:
    for name in (f"{upload_id}.part", f"{upload_id}.json"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=uploads_fd)


def status(ws: Workspace, upload_id: str) -> Upload:
    with files.opened(ws.uploads) as up:
        st = _state(up, upload_id)
        return Upload(upload_id, st["path"], int(st["size"]), _part_size(up, upload_id), st.get("sha256"),
                      bool(st.get("overwrite")))


class PartWriter:
    """Appends one part at ``offset``, which must be where the server's copy ends (else 409 with the offset)."""

    def __init__(self, ws: Workspace, upload_id: str, offset: int) -> None:
        self.upload = status(ws, upload_id)
        if offset != self.upload.offset:
            raise Conflict(f"the upload is at byte {self.upload.offset}, not {offset}: resume from there")
        self.key = (str(ws.container), upload_id)
        self.ws = ws
        with files.opened(ws.uploads) as up:
            self.fd = os.open(f"{upload_id}.part", os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC,
                              dir_fd=up)
        self.pos = self.start = offset
        with _digests_lock:
            at, digest = _digests.get(self.key, (-1, None))
        self.digest = digest if at == offset else None

    def write(self, data: bytes | bytearray) -> None:
        """Append ``data``; what a refused write left on disk stays and counts (the client resumes after it).
        Write-back of what was written is started at once (:func:`start_writeback`), so the disk works while the
        next bytes arrive and the part's closing ``fsync`` finds little left to do."""
        if self.pos + len(data) > self.upload.size:
            raise InvalidInput(f"the upload was declared as {self.upload.size} bytes; this part goes past it")
        view = memoryview(data)
        try:
            while view:  # a write near the quota is short; the next one says EDQUOT
                n = os.write(self.fd, view)
                if self.digest is not None:
                    self.digest.update(view[:n])
                self.pos += n
                view = view[n:]
        except OSError as exc:
            raise self._failed(exc) from exc
        start_writeback(self.fd, self.pos - len(data), len(data))

    def _failed(self, exc: OSError) -> Exception:
        """The error to raise; on a full disk (ENOSPC) the upload is discarded first, so nothing half-written
        holds the disk or can be finished later (a quota's EDQUOT keeps it: free space, then resume)."""
        error = files.storage_error(exc, "writing the upload")
        if isinstance(error, StorageFull):
            self.digest = None
            with files.opened(self.ws.uploads) as up:
                _discard(up, self.upload.id)
            error = StorageFull(f"writing the upload: the disk under the workspaces is full (ENOSPC) after "
                                f"{self.pos} of {self.upload.size} bytes; the upload was discarded, nothing was kept")
        return error

    def close(self) -> int:
        """Make the part durable (a quota may only show at write-back, here) and return the offset. When that
        fails the part is cut back to where it began, if the file system lets it: finishing re-reads and
        verifies the whole file in any case, so a part lost at write-back cannot pass as received."""
        try:
            os.fsync(self.fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, self.start)
            self.digest = None
            raise self._failed(exc) from exc
        finally:
            os.close(self.fd)
            with _digests_lock:
                if self.digest is not None:
                    _digests[self.key] = (self.pos, self.digest)
                else:
                    _digests.pop(self.key, None)
        return self.pos


_libc: Any = None


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to begin writing a range back now, without waiting (``sync_file_range`` with
    ``SYNC_FILE_RANGE_WRITE``): an upload then streams to disk like ``cp`` instead of piling up dirty pages for
    one long ``fsync`` per part, during which nothing is received. Best effort: where the call is missing,
    the ``fsync`` at the end of the part still makes it durable."""
    global _libc
    if _libc is None:
        import ctypes

        try:
            lib = ctypes.CDLL(None, use_errno=True)
            fn = lib.sync_file_range
            fn.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
            _libc = fn
        except (OSError, AttributeError):
            _libc = False
    if _libc:
        _libc(fd, offset, length, 2)  # SYNC_FILE_RANGE_WRITE


def _hash_fd(fd: int) -> str:
    digest = hashlib.sha256()
    pos = 0
    while data := os.pread(fd, files.CHUNK, pos):
        digest.update(data)
        pos += len(data)
    return digest.hexdigest()


def finish(ws: Workspace, upload_id: str, sha256: str | None) -> tuple[files.Entry, str]:
    """Verify and put the file in place; a checksum that does not match discards the upload."""
    up_state = status(ws, upload_id)
    if sha256 is not None and not SHA256.match(sha256):
        raise InvalidInput("sha256 must be 64 lowercase hexadecimal digits")
    if up_state.offset != up_state.size:
        raise Conflict(f"the upload has {up_state.offset} of {up_state.size} bytes: send the rest first")
    key = (str(ws.container), upload_id)
    with files.opened(ws.uploads) as up:
        fd = os.open(f"{upload_id}.part", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=up)
        try:
            with _digests_lock:
                at, digest = _digests.get(key, (-1, None))
            got = digest.hexdigest() if at == up_state.size and digest is not None else _hash_fd(fd)
            expected = [h for h in (sha256, up_state.sha256) if h]
            if any(h != got for h in expected):
                abort(ws, upload_id)
                raise InvalidInput(f"checksum mismatch: the server received sha256 {got}; the upload was discarded")
            if os.geteuid() == 0:
                os.fchown(fd, ws.uid, ws.uid)
            os.fchmod(fd, 0o660)
            st = os.fstat(fd)
            with contextlib.suppress(OSError):
                os.setxattr(fd, XATTR, f"{st.st_size}:{st.st_mtime_ns}:{got}".encode())
        finally:
            os.close(fd)
        parts = check_path(up_state.path)
        with files.opened(ws.files) as root, files.parent_of(root, parts, make=True, uid=ws.uid) as parent:
            existing = files.lstat_at(parent, parts[-1])
            if existing is not None and (stat.S_ISDIR(existing.st_mode) or not up_state.overwrite):
                raise Conflict(f"{up_state.path!r} appeared meanwhile; the upload is kept, finish it again later")
            os.rename(f"{upload_id}.part", parts[-1], src_dir_fd=up, dst_dir_fd=parent)
        os.unlink(f"{upload_id}.json", dir_fd=up)
    with _digests_lock:
        _digests.pop(key, None)
    return files.Entry(up_state.path, "file", up_state.size, time.time()), got


def abort(ws: Workspace, upload_id: str) -> None:
    with files.opened(ws.uploads) as up:
        _state(up, upload_id)
        _discard(up, upload_id)
    with _digests_lock:
        _digests.pop((str(ws.container), upload_id), None)


def stale(ws: Workspace, before: float) -> list[Upload]:
    """Uploads begun before ``before`` (Unix time) and never finished: they hold quota, so they expire."""
    out = []
    with files.opened(ws.uploads) as up:
        names = [n[:-5] for n in os.listdir(up) if n.endswith(".json") and UPLOAD_ID.match(n[:-5])]
        for upload_id in names:
            with contextlib.suppress(NotFound, ValueError, OSError, KeyError):
                if float(_state(up, upload_id)["created"]) < before:
                    out.append(status(ws, upload_id))
    return out


def checksum(root_fd: int, raw: str, uid: int) -> str:
    """SHA-256 of a workspace file: from the mark AICC left when the size and mtime still match, else read."""
    fd, st = files.open_for_reading(root_fd, raw, uid)
    try:
        with contextlib.suppress(OSError, ValueError):
            size, mtime, hexdigest = os.getxattr(fd, XATTR).decode().split(":")
            if int(size) == st.st_size and int(mtime) == st.st_mtime_ns and SHA256.match(hexdigest):
                return hexdigest
        got = _hash_fd(fd)
        with contextlib.suppress(OSError):
            if os.geteuid() == 0:
                os.setxattr(fd, XATTR, f"{st.st_size}:{st.st_mtime_ns}:{got}".encode())
        return got
    except OSError as exc:
        if exc.errno == errno.EIO:
            raise InvalidInput(f"{raw!r} could not be read") from exc
        raise
    finally:
        os.close(fd)
