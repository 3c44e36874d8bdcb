"""Who enforces a workspace's size: the file system (btrfs qgroups) or, failing that, AICC by measurement.

The issue asks for ext4 or XFS project quotas. The kernels AICC was built on (see ``docs/workspaces.md``) ship
without ``CONFIG_QFMT_V2`` and ``CONFIG_XFS_QUOTA``: mounting with ``prjquota`` fails on both. Btrfs is
built in, and a btrfs subvolume per project with a qgroup limit gives the same guarantee: a write past the
limit fails with ``EDQUOT`` in the writer, whoever it is (a job, the server), and other subvolumes are
unaffected. ``detect`` picks the strongest enforcement the workspace root offers and says which; a root that
cannot enforce gets :class:`MeasuredQuota`, which sums file sizes and lets the services refuse new jobs and
uploads of a project over its quota. It is never silently unlimited.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger("aicc.workspaces")

BTRFS_MAGIC = "btrfs"
MEASURE_TTL_S = 5.0


class QuotaBackend(Protocol):
    enforced: bool
    """True when the kernel refuses writes past the limit (EDQUOT); False when AICC only measures."""
    name: str

    def create(self, path: Path) -> None:
        """Make the project's workspace container at ``path`` (a subvolume, or a directory)."""
        ...

    def set_limit(self, path: Path, limit_bytes: int) -> None: ...

    def limit(self, path: Path) -> int | None:
        """The limit in force now, None when there is none."""
        ...

    def usage(self, path: Path) -> int:
        """Bytes the workspace holds now (what counts against its quota)."""
        ...

    def remove(self, path: Path) -> None: ...


def _run(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    if done.returncode != 0:
        raise OSError(f"{' '.join(argv[:3])}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


@dataclass
class BtrfsQuota:
    """A subvolume per project, its level-0 qgroup limited in referenced bytes (what its files hold)."""

    btrfs: str = "btrfs"
    enforced: bool = True
    name: str = "btrfs-qgroup"

    def create(self, path: Path) -> None:
        _run(self.btrfs, "subvolume", "create", str(path))

    def set_limit(self, path: Path, limit_bytes: int) -> None:
        _run(self.btrfs, "qgroup", "limit", str(limit_bytes), str(path))

    def usage(self, path: Path) -> int:
        """The subvolume's referenced bytes, as its qgroup counts them (updated at each transaction commit,
        so a write of the last second may show a moment later; the kernel enforces on reservation)."""
        return int(self._qgroup(path)[1])

    def limit(self, path: Path) -> int | None:
        """The qgroup's ``Max referenced`` (``none`` when unlimited)."""
        value = self._qgroup(path)[3]
        return int(value) if value.isdigit() else None

    def _qgroup(self, path: Path) -> list[str]:
        """``qgroupid, referenced, exclusive, max referenced`` of the subvolume's level-0 qgroup."""
        qgroup = f"0/{self._subvolume_id(path)}"
        for line in _run(self.btrfs, "qgroup", "show", "--raw", "-r", str(path)).splitlines():
            fields = line.split()
            if fields and fields[0] == qgroup and len(fields) >= 4:
                return fields
        raise OSError(f"no qgroup {qgroup} for {path}")

    def _subvolume_id(self, path: Path) -> int:
        for line in _run(self.btrfs, "subvolume", "show", str(path)).splitlines():
            key, _, value = line.strip().partition(":")
            if key.strip() == "Subvolume ID":
                return int(value)
        raise OSError(f"{path} is not a btrfs subvolume")

    def remove(self, path: Path) -> None:
        _run(self.btrfs, "subvolume", "delete", str(path))


@dataclass
class MeasuredQuota:
    """Plain directories; usage is the allocated size of every file beneath (cached a few seconds)."""

    reason: str = ""
    enforced: bool = False
    name: str = "measured"

    def __post_init__(self) -> None:
        self._cache: dict[Path, tuple[float, int]] = {}
        self._set: dict[Path, int] = {}

    def create(self, path: Path) -> None:
        path.mkdir(mode=0o711)

    def set_limit(self, path: Path, limit_bytes: int) -> None:
        """Nothing to tell the file system: the services compare :meth:`usage` with the quota (kept here, for
        :meth:`limit`, while the process lives)."""
        self._set[path] = limit_bytes

    def limit(self, path: Path) -> int | None:
        return self._set.get(path)

    def usage(self, path: Path) -> int:
        hit = self._cache.get(path)
        if hit is not None and time.monotonic() - hit[0] < MEASURE_TTL_S:
            return hit[1]
        total = _tree_bytes(path)
        self._cache[path] = (time.monotonic(), total)
        return total

    def remove(self, path: Path) -> None:
        shutil.rmtree(path)


def _tree_bytes(path: Path) -> int:
    total = 0
    stack = [str(path)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for e in entries:
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            total += max(st.st_size, st.st_blocks * 512) if not e.is_dir(follow_symlinks=False) else 0
            if e.is_dir(follow_symlinks=False):
                stack.append(e.path)
    return total


def fs_type(path: Path) -> str:
    try:
        return _run("stat", "-f", "-c", "%T", str(path)).strip()
    except OSError:
        return "unknown"


def detect(root: Path) -> QuotaBackend:
    """The enforcement ``root`` offers, decided once at start-up and logged (an error when only measured)."""
    kind = fs_type(root)
    btrfs = shutil.which("btrfs")
    why = ""
    if kind != BTRFS_MAGIC:
        why = f"{root} is on {kind}, not a btrfs file system with quotas (scripts/workspaces-up makes one)"
    elif btrfs is None:
        why = "btrfs-progs is not installed (scripts/install-workspaces)"
    elif os.geteuid() != 0:
        why = "the server is not root and cannot create subvolumes or set qgroup limits"
    else:
        try:
            _run(btrfs, "qgroup", "show", str(root))
        except OSError as exc:
            why = f"quotas are not enabled on {root} ({exc}); run: btrfs quota enable {root}"
    if not why:
        log.info("workspace quotas are enforced by the file system (btrfs qgroups) under %s", root)
        return BtrfsQuota(btrfs=btrfs or "btrfs")
    log.error("workspace quotas are NOT enforced by the file system: %s. AICC measures usage instead and refuses "
              "uploads and new jobs of a project over its quota; a running job can still write past it", why)
    return MeasuredQuota(reason=why)
