"""A job sees its project's workspace read-write at /workspace, bound by its quota, and no other project's."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from aicc.executors.base import RunPhase
from aicc.executors.local import LocalExecutor
from aicc.executors.local.isolation import run_spec, workspace_binds
from aicc.workspaces.layout import Workspaces
from tests.executors.test_isolation import A_UID, B_UID, make_launch, wait

MIB = 1 << 20
FILL = ("echo hello > /workspace/note.txt && ls / > /workspace/root.txt && echo $AICC_WORKSPACE > /workspace/env.txt"
        " && ls {other} > /workspace/other.txt 2>&1; dd if=/dev/zero of=/workspace/big bs=1M count={mib} conv=fsync;"
        " exit 0")


def test_a_job_writes_its_workspace_until_the_quota_and_the_other_project_is_unaffected(
        tmp_path: Path, workspace_root: Path) -> None:
    spaces = Workspaces(workspace_root)
    a, b = spaces.ensure(1, A_UID, 8 * MIB), spaces.ensure(2, B_UID, 64 * MIB)
    jobs = tmp_path / "jobs"
    ex = LocalExecutor(jobs)
    runs = []
    for job_id, (ws, uid, mib) in enumerate(((a, A_UID, 20), (b, B_UID, 20)), start=1):
        other = b.files if ws is a else a.files
        launch = dataclasses.replace(make_launch(jobs, job_id, ["sh", "-c", FILL.format(mib=mib, other=other)], uid),
                                     workspace=ws.files)
        runs.append((job_id, ex.start(launch)))
    for job_id, ext in runs:
        assert wait(ex, job_id, ext, (RunPhase.SUCCEEDED, RunPhase.FAILED)).phase is RunPhase.SUCCEEDED
    a_err, b_err = ((jobs / str(j) / "stderr.log").read_text() for j, _ in runs)
    assert "Disk quota exceeded" in a_err and (a.files / "big").stat().st_size <= 8 * MIB
    assert "exceeded" not in b_err and (b.files / "big").stat().st_size == 20 * MIB, b_err
    for ws, uid in ((a, A_UID), (b, B_UID)):
        assert (ws.files / "note.txt").read_text() == "hello\n" and (ws.files / "note.txt").stat().st_uid == uid
        assert "workspace" in (ws.files / "root.txt").read_text().split()
        assert (ws.files / "env.txt").read_text() == "/workspace\n"
        assert "No such file" in (ws.files / "other.txt").read_text()  # the other workspace is not even there


def test_a_sensitive_run_gets_no_workspace(tmp_path: Path) -> None:
    """Its only writable place is /out, held for review: a workspace would be a way round the airlock."""
    from aicc.executors.base import SandboxSpec

    (tmp_path / "out").mkdir()
    (tmp_path / "ws").mkdir()
    launch = dataclasses.replace(make_launch(tmp_path / "jobs", 1, ["true"], A_UID), workspace=tmp_path / "ws",
                                 sandbox=SandboxSpec({}, tmp_path / "out"))
    assert workspace_binds(launch) == []
    spec = run_spec(launch, {}, uid=A_UID, device_root=tmp_path)
    assert all(b.target != "/workspace" for b in spec.binds)
    ordinary = dataclasses.replace(launch, sandbox=None)
    (bind,) = workspace_binds(ordinary)
    assert (bind.src, bind.target, bind.writable) == (str(tmp_path / "ws"), "/workspace", True)
