"""On Slurm the batch step runs the job through the same runner: the project's uid, bubblewrap, cgroups."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from aicc.executors.base import RunPhase
from aicc.executors.slurm import SlurmExecutor
from aicc.executors.slurm.batch import batch_script_path, run_spec_path

UID = 200_041


def test_a_slurm_job_runs_as_its_project_sees_only_its_directory_and_is_memory_limited(
    slurm_executor: SlurmExecutor, make_launch, wait_run, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    secret = tmp_path / "server-secret"
    secret.write_text("not for jobs")
    code = ("import json, os\n"
            f"print(json.dumps({{'uid': os.getuid(), 'secret': os.path.exists({str(secret)!r}), "
            "'procs': len([p for p in os.listdir('/proc') if p.isdigit()]), 'job': os.environ.get('SLURM_JOB_ID')}))\n")
    launch = dataclasses.replace(make_launch(["python3", "-c", code], job_id=61), unix_uid=UID)
    ext = slurm_executor.start(launch)
    st = wait_run(slurm_executor, (61, 1, ext), lambda s: s.phase.finished, 60)
    out = (launch.workdir / "stdout.log").read_text()
    assert st.phase is RunPhase.SUCCEEDED, (st, out, (launch.workdir / "stderr.log").read_text())
    got = json.loads(out.strip().splitlines()[-1])
    assert got == {"uid": UID, "secret": False, "procs": got["procs"], "job": ext} and got["procs"] <= 3
    assert secret.read_text() and "aicc.runner" in batch_script_path(launch).read_text()  # host control
    spec = json.loads(run_spec_path(launch).read_text())
    assert spec["uid"] == UID and os.stat(run_spec_path(launch)).st_uid == 0

    hog = dataclasses.replace(make_launch(["python3", "-c", "b = bytearray(600 << 20)"], job_id=62),
                              unix_uid=UID, memory_mb=128)
    ext = slurm_executor.start(hog)
    st = wait_run(slurm_executor, (62, 1, ext), lambda s: s.phase.finished, 60)
    assert st.phase is RunPhase.FAILED
    assert "out of memory (limit 128 MiB)" in (hog.workdir / "stderr.log").read_text()
