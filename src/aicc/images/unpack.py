"""Unpack an OCI image's layers into one root filesystem, safely.

Why our own ~150 lines and not ``umoci unpack`` or Python's ``tarfile`` filters: the rules below must all hold
in one pass, and neither does that. ``tarfile``'s ``data`` filter refuses absolute symlinks, which every Debian
image has (``/etc/alternatives``); umoci 0.4.7 keeps setuid bits and creates device nodes when run as root.

The rules, for every layer in order (OCI image spec, "Applying changesets"):

- a member's path is taken relative to the root; one with a ``..`` component is skipped;
- **no symlink is ever followed while writing**: every parent directory of a member must be a real directory
  inside the root (checked with ``lstat``), and files are created with ``O_NOFOLLOW | O_EXCL``; a member
  under a symlink is skipped (a later layer of a real image writes the resolved path instead);
- symlinks are written as they are, absolute ones included: the root is bound at ``/`` inside the job's mount
  namespace, so ``/x`` resolves inside the image, never on the host;
- setuid and setgid bits are dropped; device nodes, FIFOs and sockets are skipped; ownership is not copied
  (everything belongs to the unpacking user; the tree is bound read-only, so owners grant nothing);
- whiteouts: ``.wh.<name>`` deletes ``name``; ``.wh..wh..opq`` empties the directory of lower layers' entries.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
CHUNK = 1 << 20


@dataclass
class UnpackReport:
    files: int = 0
    skipped: list[str] = field(default_factory=list)
    """Members left out, each with why (kept short: the first 50)."""
    dir_modes: dict[Path, int] = field(default_factory=dict)
    """Directories keep 0700 while later layers write into them; their image modes are set at the end."""

    def skip(self, name: str, why: str) -> None:
        if len(self.skipped) < 50:
            self.skipped.append(f"{name}: {why}")


def _parts(name: str) -> list[str] | None:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return None if any(p == ".." for p in parts) else parts


def _parent(root: Path, parts: list[str], report: UnpackReport, name: str) -> Path | None:
    """The member's parent directory inside ``root``, made when missing; None when a part is not a real directory."""
    here = root
    for part in parts[:-1]:
        here = here / part
        try:
            st = os.lstat(here)
        except FileNotFoundError:
            os.mkdir(here, 0o755)
            continue
        if not stat.S_ISDIR(st.st_mode):
            report.skip(name, "under a symlink or a file")
            return None
    return here


def _remove(path: Path) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _mode(member: tarfile.TarInfo) -> int:
    return member.mode & 0o1777  # no setuid, no setgid


def apply_layer(root: Path, layer: tarfile.TarFile, report: UnpackReport) -> None:
    """Apply one layer (an open tar stream) on top of ``root``."""
    for member in layer:
        parts = _parts(member.name)
        if parts is None:
            report.skip(member.name, "'..' in its path")
            continue
        if not parts:
            continue
        parent = _parent(root, parts, report, member.name)
        if parent is None:
            continue
        base = parts[-1]
        if base == OPAQUE:
            for entry in os.listdir(parent):
                _remove(parent / entry)
            continue
        if base.startswith(WHITEOUT):
            _remove(parent / base[len(WHITEOUT):])
            continue
        target = parent / base
        if member.isdir():
            try:
                st = os.lstat(target)
                if not stat.S_ISDIR(st.st_mode):
                    _remove(target)
                    os.mkdir(target, 0o700)
            except FileNotFoundError:
                os.mkdir(target, 0o700)
            report.dir_modes[target] = _mode(member)
            continue
        if member.isdev() or member.isfifo() or not (member.isfile() or member.issym() or member.islnk()):
            report.skip(member.name, "device node, FIFO or socket")
            continue
        _remove(target)
        if member.issym():
            os.symlink(member.linkname, target)
        elif member.islnk():
            src_parts = _parts(member.linkname)
            src_parent = _parent(root, src_parts, report, member.name) if src_parts else None
            if not src_parts or src_parent is None:
                report.skip(member.name, "hard link outside the image")
                continue
            try:
                os.link(src_parent / src_parts[-1], target, follow_symlinks=False)
            except OSError as exc:
                report.skip(member.name, f"hard link: {exc.strerror}")
                continue
        else:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                src = layer.extractfile(member)
                if src is not None:
                    shutil.copyfileobj(src, out, CHUNK)
                os.fchmod(out.fileno(), _mode(member))
        report.files += 1


def add_mount_point(root: Path) -> None:
    """An empty ``/aicc`` (whatever the image put there is dropped): where the job's own directory is bound, since a
    read-only root cannot take new mount points."""
    _remove(root / "aicc")
    os.mkdir(root / "aicc", 0o755)


def unpack(root: Path, layers: Iterable[Path], progress: Callable[[int], None] | None = None) -> UnpackReport:
    """Apply ``layers`` (tar or tar+gzip blobs, bottom first) into the empty directory ``root``.

    ``progress`` is called with the compressed bytes read so far, after each layer."""
    report = UnpackReport()
    done = 0
    for path in layers:
        with tarfile.open(path, mode="r:*") as layer:
            apply_layer(root, layer, report)
        done += path.stat().st_size
        if progress is not None:
            progress(done)
    for path, mode in sorted(report.dir_modes.items(), reverse=True):  # children before their parents
        try:
            if stat.S_ISDIR(os.lstat(path).st_mode):
                os.chmod(path, mode)
        except FileNotFoundError:
            pass  # removed by a later layer's whiteout
    add_mount_point(root)
    return report
