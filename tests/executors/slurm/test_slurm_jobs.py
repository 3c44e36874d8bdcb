"""Real jobs through SlurmExecutor: placement, env, exit codes, cancel, idempotent start."""

from __future__ import annotations

import dataclasses
import os
import sys

import pytest

from aicc.executors.base import Placement, RunPhase, RunStatus
from aicc.executors.slurm import SlurmExecutor
from aicc.executors.slurm.records import JobCompLog

pytestmark = pytest.mark.slurm


def _finished(status: RunStatus) -> bool:
    return status.phase.finished


def _running(status: RunStatus) -> bool:
    return status.phase is RunPhase.RUNNING


def _env_file(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_placed_gpu_job_runs_on_its_node_with_slurm_and_aicc_env(
    slurm_executor: SlurmExecutor, make_launch, wait_run, monkeypatch
) -> None:
    monkeypatch.setenv("AICC_CONTROLLER_SECRET", "must-not-leak")
    launch = make_launch(
        ["/bin/sh", "-c", 'env; echo "NODE=$SLURMD_NODENAME"'],
        flavor="h100",
        placements=[Placement("node1", (0, 1))],
        env={"GREETING": "hello, world = yes"},
        job_id=41,
    )
    external_id = slurm_executor.start(launch)
    status = wait_run(slurm_executor, (41, 1, external_id), _finished)

    assert status.phase is RunPhase.SUCCEEDED, status
    assert status.exit_code == 0
    assert status.started_at is not None and status.ended_at is not None
    assert status.started_at <= status.ended_at
    stdout, _ = slurm_executor.log_paths(launch.workdir)
    env = _env_file(stdout.read_text())
    assert env["SLURM_JOB_ID"] == external_id
    assert env["SLURM_JOB_NAME"] == launch.name
    assert env["SLURM_GPUS_ON_NODE"] == "2"
    assert env["NODE"] == "node1"
    assert env["AICC_JOB_ID"] == "41"
    assert env["GREETING"] == "hello, world = yes"
    assert "AICC_CONTROLLER_SECRET" not in env


def test_nonzero_exit_is_failed_with_its_exit_code_and_same_times_in_both_records(
    slurm_executor: SlurmExecutor, make_launch, wait_run
) -> None:
    launch = make_launch(["/bin/sh", "-c", "exit 3"], job_id=42)
    external_id = slurm_executor.start(launch)
    status = wait_run(slurm_executor, (42, 1, external_id), _finished)

    assert status.phase is RunPhase.FAILED
    assert status.exit_code == 3
    assert status.reason == "exit code 3"
    # Metering bills from these times: squeue (Unix seconds) and the jobcomp log
    # (local time, no zone) must agree for the same job.
    queued = {r.job_id: r for r in slurm_executor.queue()}[int(external_id)]
    log = JobCompLog(slurm_executor.config.jobcomp_log)
    log.refresh()
    completed = log.by_id(int(external_id))
    assert completed is not None
    assert (completed.state, completed.exit_code) == ("FAILED", 3)
    assert completed.start_time == queued.start_time == status.started_at
    assert completed.end_time == queued.end_time == status.ended_at


def test_cancel_sends_sigterm_first_and_ends_the_job_cancelled(
    slurm_executor: SlurmExecutor, make_launch, wait_run
) -> None:
    script = 'trap "echo got TERM; exit 0" TERM; echo started; sleep 300 & wait'
    launch = make_launch(["/bin/sh", "-c", script], job_id=43)
    external_id = slurm_executor.start(launch)
    stdout, _ = slurm_executor.log_paths(launch.workdir)
    wait_run(slurm_executor, (43, 1, external_id), lambda s: _running(s) and stdout.exists()
             and "started" in stdout.read_text())  # fmt: skip

    slurm_executor.cancel(external_id, grace_s=5)
    status = wait_run(slurm_executor, (43, 1, external_id), _finished)
    assert status.phase is RunPhase.CANCELLED
    assert status.reason == "cancelled"
    assert status.ended_at is not None
    assert "got TERM" in stdout.read_text()  # the job had its grace period to clean up


def test_start_twice_with_the_same_name_submits_once(
    slurm_executor: SlurmExecutor, make_launch, wait_run
) -> None:
    launch = make_launch(["/bin/sh", "-c", "echo once"], job_id=44)
    first = slurm_executor.start(launch)
    again_live = slurm_executor.start(launch)
    wait_run(slurm_executor, (44, 1, first), _finished)
    # Finished jobs are found too, and by a brand-new executor (a restarted controller).
    again_new_executor = SlurmExecutor(slurm_executor.config).start(launch)

    assert first == again_live == again_new_executor
    assert [r.job_id for r in slurm_executor.queue() if r.name == launch.name] == [int(first)]
    stdout, _ = slurm_executor.log_paths(launch.workdir)
    assert stdout.read_text().splitlines() == ["once"]


def test_a_job_slurm_never_knew_is_lost(slurm_executor: SlurmExecutor) -> None:
    [status] = slurm_executor.reconcile([(45, 1, str(10**9))])
    assert status.phase is RunPhase.LOST
    assert status.reason is not None and "neither in the queue" in status.reason


def test_job_over_its_time_limit_is_timed_out(slurm_executor: SlurmExecutor, make_launch, wait_run) -> None:
    # Slurm's smallest limit is one minute and slurmctld checks limits every 30 s:
    # this test takes 60-90 s, so it is the only one that waits for a limit.
    launch = make_launch(["/bin/sh", "-c", "sleep 600"], time_limit_s=30, job_id=46)
    external_id = slurm_executor.start(launch)
    wait_run(slurm_executor, (46, 1, external_id), _running)
    status = wait_run(slurm_executor, (46, 1, external_id), _finished, timeout_s=150)
    assert status.phase is RunPhase.TIMED_OUT
    assert status.reason == "time limit 1 min reached"
    assert os.path.exists(launch.workdir / "stdout.log")


def test_sensitive_job_runs_inside_the_sandbox_on_slurm(slurm_executor: SlurmExecutor, make_launch, wait_run,
                                                         tmp_path) -> None:
    """The same bubblewrap sandbox as on the local executor: data read-only, /out writable, no network."""
    from aicc.executors.base import SandboxSpec

    data = tmp_path / "data"
    data.mkdir()
    (data / "rows.csv").write_text("a,b\n1,2\n")
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "secret.txt").write_text("another job's file")
    code = (
        "import os, socket\n"
        "print(open('/data/cxr/rows.csv').read().splitlines()[1])\n"
        "try:\n    open('/data/cxr/rows.csv', 'a')\n    print('data-writable')\nexcept OSError:\n"
        "    print('data-read-only')\n"
        "print('ifaces', sorted(x.split(':')[0].strip() for x in open('/proc/net/dev').readlines()[2:]))\n"
        "try:\n    socket.if_nameindex()\nexcept OSError:\n    print('netlink-denied')\n"
        f"print('host', os.path.exists({str(tmp_path / 'secret.txt')!r}), os.environ.get('SLURM_JOB_ID', '') != '')\n"
        "open('/out/result.txt', 'w').write('ok')\n"
    )
    launch = make_launch([sys.executable, "-c", code])
    launch = dataclasses.replace(launch, sandbox=SandboxSpec({"cxr": data}, out))
    ext = slurm_executor.start(launch)
    st = wait_run(slurm_executor, (launch.job_id, launch.attempt, ext), lambda s: s.phase.finished, 60)
    log = (launch.workdir / "stdout.log").read_text()
    assert st.phase is RunPhase.SUCCEEDED, (st, log, (launch.workdir / "stderr.log").read_text())
    assert "1,2" in log and "data-read-only" in log and "ifaces ['lo']" in log and "netlink-denied" in log
    assert "host False True" in log  # the host's files are not there; Slurm's job id is passed through
    assert (out / "result.txt").read_text() == "ok"


def _finished(status: RunStatus) -> bool:
    return status.phase.finished


def test_like_shaped_runs_start_as_one_array_each_with_its_own_env_logs_and_exit(
    slurm_executor: SlurmExecutor, make_launch, wait_run
) -> None:
    runs = [make_launch(["/bin/sh", "-c", f'echo "run $AICC_JOB_ID $X in $PWD"; echo oops >&2; exit {code}'],
                        env={"X": f"x {i}'s"}, job_id=300 + i) for i, code in enumerate([0, 3, 0])]
    alone = make_launch(["/bin/sh", "-c", "echo alone"], job_id=310, time_limit_s=120)  # another limit
    ids = slurm_executor.start_many([*runs, alone])
    assert all(isinstance(i, str) for i in ids), ids
    array_ids = {str(i).split("_")[0] for i in ids[:3]}
    assert len(array_ids) == 1 and [str(i).split("_")[1] for i in ids[:3]] == ["0", "1", "2"]
    assert str(ids[3]).isdigit()

    statuses = [wait_run(slurm_executor, (r.job_id, r.attempt, str(i)), _finished)
                for r, i in zip(runs, ids, strict=False)]
    assert [s.exit_code for s in statuses] == [0, 3, 0]
    assert [s.phase for s in statuses] == [RunPhase.SUCCEEDED, RunPhase.FAILED, RunPhase.SUCCEEDED]
    assert all(s.started_at and s.ended_at and s.external_id == i for s, i in zip(statuses, ids, strict=False))
    for i, r in enumerate(runs):
        out, err = slurm_executor.log_paths(r.workdir)
        assert out.read_text() == f"run {300 + i} x {i}'s in {r.workdir}\n"
        assert err.read_text() == "oops\n"
    assert wait_run(slurm_executor, (310, 1, str(ids[3])), _finished).phase is RunPhase.SUCCEEDED

    # A restarted controller (a new executor) starting the same runs again finds them: nothing is submitted twice.
    again = SlurmExecutor(slurm_executor.config).start_many([*runs, alone])
    assert again == ids
    array_name = (runs[0].workdir / "slurm-array-1").read_text().split()[0]
    log = JobCompLog(slurm_executor.config.jobcomp_log)
    log.refresh()
    array_id = int(array_ids.pop())
    assert log.by_name(array_name) is not None and all(log.by_task(array_id, t) for t in (0, 1, 2))


def test_a_waiting_array_task_is_starting_and_can_be_cancelled_alone(
    slurm_executor: SlurmExecutor, make_launch, wait_run
) -> None:
    """Tasks Slurm has not split off the array yet are still found, and a cancel ends only the one asked."""
    runs = [make_launch(["sleep", "300"], job_id=320 + i, placements=(Placement("node2"),)) for i in range(2)]
    blocker = make_launch(["sleep", "300"], job_id=330, placements=(Placement("node2"),), flavor="a100")
    blocker = dataclasses.replace(blocker, cpus=8)  # the whole node: the array waits behind it
    [block_id] = slurm_executor.start_many([blocker])
    wait_run(slurm_executor, (330, 1, str(block_id)), lambda s: s.phase is RunPhase.RUNNING)
    runs = [dataclasses.replace(r, flavor="a100") for r in runs]
    ids = [str(i) for i in slurm_executor.start_many(runs)]
    try:
        first, second = slurm_executor.reconcile([(320, 1, ids[0]), (321, 1, ids[1])])
        assert first.phase is RunPhase.STARTING and second.phase is RunPhase.STARTING
        slurm_executor.cancel(ids[0], grace_s=0)
        assert wait_run(slurm_executor, (320, 1, ids[0]), _finished).phase is RunPhase.CANCELLED
        slurm_executor.cancel(str(block_id), grace_s=0)
        assert wait_run(slurm_executor, (321, 1, ids[1]), lambda s: s.phase is RunPhase.RUNNING).started_at
    finally:
        for external in [*ids, str(block_id)]:
            slurm_executor.cancel(external, grace_s=0)
