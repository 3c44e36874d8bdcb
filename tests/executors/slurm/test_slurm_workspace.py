"""On Slurm the batch step binds the same workspace at /workspace, its quota binding the job (the local test
cluster's nodes share this machine's file system: the shared-file-system assumption holds trivially)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from aicc.executors.base import RunPhase
from aicc.executors.slurm import SlurmExecutor
from aicc.workspaces.layout import Workspaces

UID = 200_043
MIB = 1 << 20


def test_a_slurm_job_writes_its_workspace_at_slash_workspace_up_to_the_quota(
    slurm_executor: SlurmExecutor, make_launch, wait_run, workspace_root: Path  # type: ignore[no-untyped-def]
) -> None:
    ws = Workspaces(workspace_root).ensure(7, UID, 8 * MIB)
    script = ("echo from-slurm > /workspace/hello.txt; "
              "dd if=/dev/zero of=/workspace/big bs=1M count=20 conv=fsync; exit 0")
    launch = dataclasses.replace(make_launch(["sh", "-c", script], job_id=71), unix_uid=UID, workspace=ws.files)
    ext = slurm_executor.start(launch)
    st = wait_run(slurm_executor, (71, 1, ext), lambda s: s.phase.finished, 60)
    err = (launch.workdir / "stderr.log").read_text()
    assert st.phase is RunPhase.SUCCEEDED, (st, err)
    assert (ws.files / "hello.txt").read_text() == "from-slurm\n" and (ws.files / "hello.txt").stat().st_uid == UID
    assert "Disk quota exceeded" in err and (ws.files / "big").stat().st_size <= 8 * MIB
