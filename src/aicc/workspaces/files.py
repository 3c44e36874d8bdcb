"""File operations inside one workspace, never following a link and never leaving it.

The server runs as root and the workspace is writable by the project's jobs, so anything in it may have been
swapped for a symlink a moment ago. Every operation therefore starts from an open descriptor of the workspace's
``files`` directory and walks the (already checked, ``aicc.core.workspaces.check_path``) components with
``O_NOFOLLOW``, acting on the last one through its parent's descriptor (``unlinkat``, ``renameat``,
``openat``). Only regular files owned by the project's uid are ever read back: a hard link to someone
else's file, a device node or a FIFO a job made is refused, not served.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from aicc.core.errors import Conflict, InvalidInput, NotFound
from aicc.core.workspaces import QuotaExceeded, StorageFull, check_path

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Entry:
    path: str
    kind: str
    """``file``, ``dir``, ``link`` or ``other`` (device, FIFO, socket: listed, never served)."""
    size: int
    mtime: float


def storage_error(exc: OSError, what: str) -> Exception:
    """EDQUOT and ENOSPC as the domain's errors, with the workspace's words; anything else unchanged."""
    if exc.errno == errno.EDQUOT:
        return QuotaExceeded(f"{what}: the workspace quota is reached (EDQUOT); free space or ask for more")
    if exc.errno == errno.ENOSPC:
        return StorageFull(f"{what}: the storage under the workspaces is full; nothing was kept")
    return exc


@contextlib.contextmanager
def opened(path: str | os.PathLike[str], flags: int = DIR_FLAGS, dir_fd: int | None = None) -> Iterator[int]:
    fd = os.open(path, flags, dir_fd=dir_fd)
    try:
        yield fd
    finally:
        os.close(fd)


def _step(fd: int, name: str) -> int:
    try:
        return os.open(name, DIR_FLAGS, dir_fd=fd)
    except FileNotFoundError:
        raise NotFound(f"no such directory {name!r} in the workspace") from None
    except OSError as exc:
        if exc.errno in (errno.ENOTDIR, errno.ELOOP):
            raise InvalidInput(f"{name!r} is not a directory (links are not followed)") from None
        raise


@contextlib.contextmanager
def parent_of(root_fd: int, parts: tuple[str, ...], *, make: bool = False, uid: int = -1) -> Iterator[int]:
    """A descriptor of the directory holding ``parts[-1]`` (``make``: creating missing ones, owned by ``uid``)."""
    fd = os.dup(root_fd)
    try:
        for name in parts[:-1]:
            if make:
                try:
                    os.mkdir(name, 0o770, dir_fd=fd)
                    if os.geteuid() == 0:
                        os.chown(name, uid, uid, dir_fd=fd, follow_symlinks=False)
                except FileExistsError:
                    pass
                except OSError as exc:
                    raise storage_error(exc, "creating a directory") from exc
            nxt = _step(fd, name)
            os.close(fd)
            fd = nxt
        yield fd
    finally:
        os.close(fd)


def lstat_at(parent: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return None


def kind_of(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "link"
    return "other"


def list_dir(root_fd: int, raw: str, owner: int | None = None) -> tuple[list[Entry], int]:
    """The entries of directory ``raw`` ("" for the top), and how many were hidden because their names are
    not ones AICC will handle (not UTF-8, control characters): a job may make them, no request can name them.
    ``owner``: only what that uid owns is listed (a job's directory also holds the server's files)."""
    parts = check_path(raw, allow_root=True)
    with contextlib.ExitStack() as stack:
        if parts:
            parent = stack.enter_context(parent_of(root_fd, parts))
            fd = _step(parent, parts[-1])
            stack.callback(os.close, fd)
            if owner is not None and os.fstat(fd).st_uid != owner:
                raise NotFound(f"no such directory {raw!r}")
        else:
            fd = root_fd
        entries, hidden = [], 0
        for name in sorted(os.listdir(fd)):
            try:
                check_path(name)
            except InvalidInput:
                hidden += 1
                continue
            st = lstat_at(fd, name)
            if st is None or (owner is not None and st.st_uid != owner):
                continue
            path = "/".join((*parts, name))
            entries.append(Entry(path, kind_of(st.st_mode), st.st_size if stat.S_ISREG(st.st_mode) else 0,
                                 st.st_mtime))
        return entries, hidden


def stat_path(root_fd: int, raw: str) -> Entry:
    parts = check_path(raw)
    with parent_of(root_fd, parts) as parent:
        st = lstat_at(parent, parts[-1])
    if st is None:
        raise NotFound(f"{raw!r} is not in the workspace")
    return Entry(raw, kind_of(st.st_mode), st.st_size if stat.S_ISREG(st.st_mode) else 0, st.st_mtime)


def open_for_reading(root_fd: int, raw: str, uid: int) -> tuple[int, os.stat_result]:
    """An open descriptor of the regular file ``raw``, owned by the project; the caller closes it."""
    parts = check_path(raw)
    with parent_of(root_fd, parts) as parent:
        try:
            fd = os.open(parts[-1], READ_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            raise NotFound(f"{raw!r} is not in the workspace") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InvalidInput(f"{raw!r} is a symbolic link: links are not followed") from None
            raise
    st = os.fstat(fd)
    owners = (uid,) if os.geteuid() == 0 else (uid, os.geteuid())  # unprivileged (development): its own files
    if not stat.S_ISREG(st.st_mode) or st.st_uid not in owners:
        os.close(fd)
        what = "not a regular file" if not stat.S_ISREG(st.st_mode) else "not the project's own file"
        raise InvalidInput(f"{raw!r} is {what}: only the project's regular files can be downloaded")
    return fd, st


def read_range(fd: int, start: int, end_inclusive: int) -> Iterator[bytes]:
    """The bytes of ``[start, end]``, a megabyte at a time, then closes ``fd`` (memory stays flat)."""
    try:
        pos = start
        while pos <= end_inclusive:
            data = os.pread(fd, min(CHUNK, end_inclusive + 1 - pos), pos)
            if not data:
                break
            pos += len(data)
            yield data
    finally:
        os.close(fd)


def remove(root_fd: int, raw: str, *, recursive: bool = False) -> Entry:
    parts = check_path(raw)
    with parent_of(root_fd, parts) as parent:
        st = lstat_at(parent, parts[-1])
        if st is None:
            raise NotFound(f"{raw!r} is not in the workspace")
        if stat.S_ISDIR(st.st_mode):
            if not recursive:
                try:
                    os.rmdir(parts[-1], dir_fd=parent)
                except OSError as exc:
                    if exc.errno == errno.ENOTEMPTY:
                        raise Conflict(f"{raw!r} is a directory that is not empty (remove it recursively)") from None
                    raise
            else:
                shutil.rmtree(parts[-1], dir_fd=parent)  # the fd-based walk: safe against symlink swaps
        else:
            os.unlink(parts[-1], dir_fd=parent)
    return Entry(raw, kind_of(st.st_mode), st.st_size, st.st_mtime)


def move(root_fd: int, src: str, dst: str, *, uid: int) -> Entry:
    """Rename within the workspace; the destination must not exist (nothing is overwritten by a move)."""
    sparts, dparts = check_path(src), check_path(dst)
    if dparts[: len(sparts)] == sparts:
        raise InvalidInput("cannot move a path into itself")
    with parent_of(root_fd, sparts) as sp, parent_of(root_fd, dparts, make=True, uid=uid) as dp:
        st = lstat_at(sp, sparts[-1])
        if st is None:
            raise NotFound(f"{src!r} is not in the workspace")
        if lstat_at(dp, dparts[-1]) is not None:
            raise Conflict(f"{dst!r} already exists")
        os.rename(sparts[-1], dparts[-1], src_dir_fd=sp, dst_dir_fd=dp)
    return Entry(dst, kind_of(st.st_mode), st.st_size, st.st_mtime)
