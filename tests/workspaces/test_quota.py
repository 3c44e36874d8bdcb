"""The file system enforces a workspace's quota (btrfs qgroups on a loop mount); elsewhere AICC says it cannot."""

from __future__ import annotations

import errno
import logging
import os
import subprocess
from pathlib import Path

import pytest

from aicc.workspaces.layout import Workspaces
from aicc.workspaces.quota import BtrfsQuota, MeasuredQuota, detect

MIB = 1 << 20
A_UID, B_UID = 200_021, 200_022


def write_as(uid: int, path: Path, mib: int) -> subprocess.CompletedProcess[str]:
    """``dd`` as the project's uid, as its job would write: the quota binds whoever writes."""
    return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "dd", "if=/dev/zero",
                           f"of={path}", "bs=1M", f"count={mib}", "conv=fsync"], capture_output=True, text=True)


def test_a_write_past_the_quota_fails_with_edquot_and_another_project_is_unaffected(workspace_root: Path) -> None:
    spaces = Workspaces(workspace_root)
    assert isinstance(spaces.backend, BtrfsQuota) and spaces.backend.enforced
    a = spaces.ensure(1, A_UID, 16 * MIB)
    b = spaces.ensure(2, B_UID, 16 * MIB)
    over = write_as(A_UID, a.files / "big", 40)
    assert over.returncode != 0 and "Disk quota exceeded" in over.stderr
    assert (a.files / "big").stat().st_size < 17 * MIB
    fine = write_as(B_UID, b.files / "big", 12)  # the other project writes within its own quota
    assert fine.returncode == 0, fine.stderr
    assert (b.files / "big").stat().st_size == 12 * MIB
    with pytest.raises(OSError) as raised, open(a.files / "more", "wb") as f:  # root (the server) is bound too
        f.write(b"x" * (8 * MIB))
        f.flush()
        os.fsync(f.fileno())
    assert raised.value.errno == errno.EDQUOT
    os.sync()
    assert 15 * MIB < spaces.usage(1) <= 17 * MIB


def test_raising_the_quota_lets_the_project_write_again(workspace_root: Path) -> None:
    spaces = Workspaces(workspace_root)
    a = spaces.ensure(1, A_UID, 8 * MIB)
    assert write_as(A_UID, a.files / "f", 12).returncode != 0
    spaces.ensure(1, A_UID, 32 * MIB)
    assert write_as(A_UID, a.files / "f", 12).returncode == 0


def test_a_workspace_is_the_projects_and_its_container_the_servers(workspace_root: Path) -> None:
    a = Workspaces(workspace_root).ensure(3, A_UID, 8 * MIB)
    assert (a.files.stat().st_uid, oct(a.files.stat().st_mode & 0o777)) == (A_UID, "0o770")
    assert (a.container.stat().st_uid, oct(a.container.stat().st_mode & 0o777)) == (0, "0o711")
    assert (a.uploads.stat().st_uid, oct(a.uploads.stat().st_mode & 0o777)) == (0, "0o700")
    moved = write_as(A_UID, a.container / "planted", 1)  # a job cannot add to the server's part
    assert moved.returncode != 0


def test_a_root_that_cannot_enforce_is_measured_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="aicc.workspaces"):
        backend = detect(tmp_path)
    assert isinstance(backend, MeasuredQuota) and not backend.enforced
    assert "NOT enforced" in caplog.text and "measures usage" in caplog.text
    spaces = Workspaces(tmp_path, backend)
    ws = spaces.ensure(1, A_UID, 1 * MIB)
    (ws.files / "data").write_bytes(b"x" * (2 * MIB))
    assert spaces.usage(1) >= 2 * MIB  # measured: the services compare it with the quota
