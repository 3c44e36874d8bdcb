"""Where each project's workspace lies on disk, who owns what there, and its quota on the file system.

``<root>/p<project id>/`` is the unit the quota covers (a btrfs subvolume, or a plain directory where the
file system cannot enforce), ``root:root 0711``: a job cannot rename or replace what is in it.
Beneath it, ``files/`` (``uid:uid 0770``) is what runs see at ``/workspace`` and what the API lists;
``.uploads/`` (``root 0700``) holds uploads in progress: inside the quota (a half-sent file counts), outside
every run's view (a job cannot swap a part file for a link), and on the same file system as ``files/`` so
finishing an upload is one ``rename``.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from aicc.workspaces.quota import QuotaBackend, detect

FILES = "files"
UPLOADS = ".uploads"
RETIRED = "retired-"
CONTAINER_MODE = 0o711
FILES_MODE = 0o770


class WorkspaceUnsafe(RuntimeError):
    """Something in the server's part of a workspace is not what the server made (a link, a job's file)."""


@dataclass(frozen=True, slots=True)
class Workspace:
    project_id: int
    uid: int
    container: Path

    @property
    def files(self) -> Path:
        """Mounted read-write at ``/workspace`` in the project's runs."""
        return self.container / FILES

    @property
    def uploads(self) -> Path:
        return self.container / UPLOADS


class Workspaces:
    """All workspaces under one root. One per process and root (:func:`for_root`): the backend is detected
    once, and quota limits already written to the file system are not written again."""

    def __init__(self, root: Path, backend: QuotaBackend | None = None) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chmod(root, 0o711)  # noqa: S103 - runs pass through to their own workspace, never list others
        self.backend = backend or detect(root)
        self._limits: dict[int, int] = {}
        self._lock = threading.Lock()

    def path_of(self, project_id: int) -> Path:
        return self.root / f"p{int(project_id)}"

    def ensure(self, project_id: int, uid: int, quota_bytes: int) -> Workspace:
        """The project's workspace, made on first use, its owners checked and its limit up to date."""
        ws = Workspace(project_id, uid, self.path_of(project_id))
        with self._lock:
            if not os.path.lexists(ws.container):
                self.backend.create(ws.container)
            _own(ws.container, 0, 0, CONTAINER_MODE)
            for path, owner, mode in ((ws.files, uid, FILES_MODE), (ws.uploads, 0, 0o700)):
                with contextlib.suppress(FileExistsError):
                    os.mkdir(path, mode)
                _own(path, owner, owner, mode)
            if self._limits.get(project_id) != quota_bytes:
                self.backend.set_limit(ws.container, quota_bytes)
                self._limits[project_id] = quota_bytes
        return ws

    def limit(self, project_id: int) -> int | None:
        """The limit the file system holds now (None: none, or no workspace)."""
        path = self.path_of(project_id)
        return self.backend.limit(path) if path.is_dir() else None

    def set_limit(self, project_id: int, quota_bytes: int) -> bool:
        """Apply a changed quota to an existing workspace at once; False when the project has none yet."""
        path = self.path_of(project_id)
        if not path.is_dir():
            return False
        with self._lock:
            self.backend.set_limit(path, quota_bytes)
            self._limits[project_id] = quota_bytes
        return True

    def usage(self, project_id: int) -> int:
        path = self.path_of(project_id)
        return self.backend.usage(path) if path.is_dir() else 0

    def existing(self) -> list[int]:
        return sorted(int(p.name[1:]) for p in self.root.iterdir() if p.name[1:].isdigit() and p.name[0] == "p")

    def retire(self, project_id: int, now: float) -> str | None:
        """Move a deleted project's workspace aside (``retired-p<id>-<unix time>``), out of reach of a later
        project given the same id, kept until :meth:`expired` says its retention is over. None: it had none."""
        path = self.path_of(project_id)
        if not path.is_dir():
            return None
        name = f"{RETIRED}p{int(project_id)}-{int(now)}"
        os.rename(path, self.root / name)
        self._limits.pop(project_id, None)
        return name

    def expired(self, before: float) -> list[str]:
        """Retired workspaces whose project was deleted before ``before`` (Unix time)."""
        out = []
        for p in self.root.iterdir():
            stamp = p.name.rsplit("-", 1)[-1]
            if p.name.startswith(RETIRED) and stamp.isdigit() and int(stamp) < before:
                out.append(p.name)
        return sorted(out)

    def remove_retired(self, name: str) -> None:
        if not name.startswith(RETIRED) or "/" in name:
            raise ValueError(f"{name!r} is not a retired workspace")
        self.backend.remove(self.root / name)


def _own(path: Path, uid: int, gid: int, mode: int) -> None:
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise WorkspaceUnsafe(f"{path} is not a directory")
    if (st.st_uid, st.st_gid) != (uid, gid) and os.geteuid() == 0:
        os.lchown(path, uid, gid)
    if stat.S_IMODE(st.st_mode) != mode:
        os.chmod(path, mode, follow_symlinks=False)


_registry: dict[Path, Workspaces] = {}
_registry_lock = threading.Lock()


def for_root(root: Path) -> Workspaces:
    with _registry_lock:
        found = _registry.get(root)
        if found is None:
            found = _registry[root] = Workspaces(root)
        return found
