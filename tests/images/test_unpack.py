"""Unpacking layers: whiteouts apply, and nothing in a hostile layer reaches outside the root or keeps privilege."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

from aicc.images.unpack import unpack


def _layer(path: Path, *members: tuple[str, bytes, int, str]) -> Path:
    """members: (name, type, mode, data or link target)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, mode, payload in members:
            info = tarfile.TarInfo(name)
            info.type, info.mode = kind, mode
            data = None
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = payload
            elif kind == tarfile.REGTYPE:
                data = payload.encode()
                info.size = len(data)
            elif kind == tarfile.CHRTYPE:
                info.devmajor, info.devminor = 1, 1
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


F, D, L, H, C = tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE


def test_layers_apply_in_order_with_whiteouts_and_opaque_directories(tmp_path: Path) -> None:
    one = _layer(tmp_path / "1.tgz", ("etc", D, 0o755, ""), ("etc/keep", F, 0o644, "k"), ("etc/gone", F, 0o644, "g"),
                 ("opt", D, 0o755, ""), ("opt/old", F, 0o644, "o"), ("bin", D, 0o755, ""),
                 ("bin/tool", F, 0o755, "#!/bin/sh\n"), ("lib", L, 0o777, "usr/lib"))
    two = _layer(tmp_path / "2.tgz", ("etc/.wh.gone", F, 0o644, ""), ("opt/.wh..wh..opq", F, 0o644, ""),
                 ("opt/new", F, 0o600, "n"), ("etc/keep", F, 0o640, "k2"), ("bin/hard", H, 0o755, "bin/tool"))
    root = tmp_path / "root"
    root.mkdir()
    report = unpack(root, [one, two])
    assert (root / "etc/keep").read_text() == "k2" and stat.S_IMODE((root / "etc/keep").stat().st_mode) == 0o640
    assert not (root / "etc/gone").exists()
    assert sorted(os.listdir(root / "opt")) == ["new"]
    assert os.readlink(root / "lib") == "usr/lib"
    assert os.stat(root / "bin/hard").st_ino == os.stat(root / "bin/tool").st_ino
    assert (root / "aicc").is_dir() and not os.listdir(root / "aicc")  # the job directory's mount point
    assert report.skipped == []


def test_a_hostile_layer_cannot_write_outside_the_root_or_keep_setuid_or_devices(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = tmp_path / "secret"
    secret.write_text("host secret")
    one = _layer(tmp_path / "1.tgz",
                 ("escape", L, 0o777, str(outside)),  # a directory symlink pointing out of the root
                 ("rel", L, 0o777, "../outside"),
                 ("suid", F, 0o4755, "x"), ("sgid", F, 0o2755, "x"), ("sticky", D, 0o1777, ""),
                 ("mem", C, 0o666, ""),
                 ("../../dotdot", F, 0o644, "x"),
                 ("hard", H, 0o644, "../secret"), ("hardabs", H, 0o644, str(secret)))
    two = _layer(tmp_path / "2.tgz", ("escape/pwned", F, 0o644, "pwned"), ("rel/pwned", F, 0o644, "pwned"),
                 ("escape", D, 0o755, ""), ("escape/inside", F, 0o644, "ok"))
    root = tmp_path / "root"
    root.mkdir()
    report = unpack(root, [one, two])
    assert os.listdir(outside) == []  # nothing written through either symlink
    assert not (tmp_path / "dotdot").exists() and not (tmp_path.parent / "dotdot").exists()
    assert stat.S_IMODE((root / "suid").stat().st_mode) == 0o755
    assert stat.S_IMODE((root / "sgid").stat().st_mode) == 0o755
    assert stat.S_IMODE((root / "sticky").stat().st_mode) == 0o1777
    assert not (root / "mem").exists() and not (root / "hard").exists()
    assert os.stat(secret).st_nlink == 1  # no hard link to a host file
    # a directory replacing the symlink is a real directory inside the root
    assert (root / "escape").is_dir() and not (root / "escape").is_symlink()
    assert (root / "escape/inside").read_text() == "ok"
    reasons = " ".join(report.skipped)
    assert "escape/pwned: under a symlink" in reasons and "device node" in reasons and "'..'" in reasons
