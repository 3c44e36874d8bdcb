"""The local executor with real processes: env, devices, exit codes, limits, cancel, re-adoption."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from aicc.executors.base import Launch, Placement, RunPhase, RunStatus
from aicc.executors.local import LocalExecutor


def launch(tmp: Path, job_id: int, argv: list[str], *, devices: tuple[int, ...] = (0, 1), limit: int = 60,
           attempt: int = 0, grace: float = 1.0) -> Launch:
    workdir = tmp / str(job_id)
    workdir.mkdir(parents=True, exist_ok=True)
    return Launch(job_id=job_id, attempt=attempt, name=f"aicc-{job_id}-{attempt}", argv=argv, workdir=workdir,
                  env={"MY_VAR": "hello"}, flavor="h100", device_env="CUDA_VISIBLE_DEVICES",
                  placements=[Placement("h100-node-01", devices)], cpus=4, memory_mb=1000, time_limit_s=limit,
                  extra={"grace_s": str(grace)})


def wait_done(ex: LocalExecutor, job_id: int, ext: str, attempt: int = 0, timeout: float = 20) -> RunStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (st,) = ex.reconcile([(job_id, attempt, ext)])
        if st.phase.finished:
            return st
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {st.phase} after {timeout} s")


def wait_running(ex: LocalExecutor, job_id: int, ext: str) -> RunStatus:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        (st,) = ex.reconcile([(job_id, 0, ext)])
        if st.phase is RunPhase.RUNNING:
            return st
        time.sleep(0.02)
    raise AssertionError("never running")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def running_with(marker: str) -> list[int]:
    """Host pids whose command line holds ``marker``: the job's pids are its own namespace's, not the host's."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if marker in cmdline and alive(int(entry)):
                out.append(int(entry))
    return out


def test_job_gets_its_devices_and_identity_in_the_environment(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path)
    code = "import json, os; print(json.dumps(dict(os.environ)))"
    ext = ex.start(launch(tmp_path, 1, [sys.executable, "-c", code], devices=(2, 3)))
    st = wait_done(ex, 1, ext)
    assert st.phase is RunPhase.SUCCEEDED and st.exit_code == 0 and st.started_at and st.ended_at
    out, _ = ex.log_paths(tmp_path / "1")
    env = json.loads(out.read_text().splitlines()[-1])
    assert env["CUDA_VISIBLE_DEVICES"] == "2,3" and env["AICC_JOB_ID"] == "1" and env["MY_VAR"] == "hello"
    assert env["AICC_ACCELERATORS"] == "2" and env["OMP_NUM_THREADS"] == "4" and env["AICC_FLAVOR"] == "h100"
    assert "AICC_DATABASE_URL" not in env  # the server's environment does not leak into jobs


def test_exit_codes_and_signals_are_recorded(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path)
    ok = ex.start(launch(tmp_path, 1, ["sh", "-c", "echo out; echo err >&2"]))
    bad = ex.start(launch(tmp_path, 2, ["sh", "-c", "exit 3"]))
    sig = ex.start(launch(tmp_path, 3, ["sh", "-c", "kill -SEGV $$"]))
    missing = ex.start(launch(tmp_path, 4, ["/no/such/program"]))
    assert wait_done(ex, 1, ok).phase is RunPhase.SUCCEEDED
    st = wait_done(ex, 2, bad)
    assert (st.phase, st.exit_code, st.reason) == (RunPhase.FAILED, 3, "exited with code 3")
    st = wait_done(ex, 3, sig)
    assert st.phase is RunPhase.FAILED and st.reason == "killed by signal SIGSEGV"
    st = wait_done(ex, 4, missing)
    assert st.phase is RunPhase.FAILED and "could not start" in (st.reason or "")
    out, err = ex.log_paths(tmp_path / "1")
    assert out.read_text().endswith("out\n") and err.read_text() == "err\n"


def test_time_limit_kills_the_whole_group(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path)
    script = "sleep 60.1 & echo $! > child.pid; wait"
    ext = ex.start(launch(tmp_path, 1, ["sh", "-c", script], limit=1, grace=0.5))
    st = wait_done(ex, 1, ext)
    assert st.phase is RunPhase.TIMED_OUT and "time limit" in (st.reason or "")
    assert st.ended_at is not None and st.started_at is not None and 0.9 <= st.ended_at - st.started_at < 10
    assert (tmp_path / "1" / "child.pid").exists()
    time.sleep(0.2)
    assert not running_with("sleep 60.1")


def test_cancel_terminates_the_group_including_grandchildren(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path)
    script = "trap 'echo got-term; exit 143' TERM; sleep 60.2 & echo $! > child.pid; wait"
    ext = ex.start(launch(tmp_path, 1, ["sh", "-c", script], grace=5))
    wait_running(ex, 1, ext)
    deadline = time.monotonic() + 10
    while not (tmp_path / "1" / "child.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    ex.cancel(ext, grace_s=5)
    st = wait_done(ex, 1, ext)
    assert st.phase is RunPhase.CANCELLED
    assert "got-term" in ex.log_paths(tmp_path / "1")[0].read_text()  # SIGTERM first: the job had its grace
    assert not running_with("sleep 60.2")


def test_a_cancel_before_the_shepherd_is_up_is_not_lost(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path)
    ext = ex.start(launch(tmp_path, 1, ["sleep", "60"]))
    ex.cancel(ext, grace_s=1)  # at once: the shepherd has not written its state yet
    st = wait_done(ex, 1, ext)
    assert st.phase is RunPhase.CANCELLED


def test_start_is_idempotent(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path)
    spec = launch(tmp_path, 1, ["sh", "-c", "echo once >> count.txt"])
    first = ex.start(spec)
    second = LocalExecutor(tmp_path).start(spec)  # a restarted controller asks again
    assert first == second
    wait_done(ex, 1, first)
    assert (tmp_path / "1" / "count.txt").read_text() == "once\n"


def test_a_new_executor_re_adopts_a_running_job_and_sees_it_end(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path)
    ext = ex.start(launch(tmp_path, 1, ["sh", "-c", "sleep 1; exit 7"]))
    wait_running(ex, 1, ext)
    reborn = LocalExecutor(tmp_path)  # no memory of the first
    (st,) = reborn.reconcile([(1, 0, ext)])
    assert st.phase is RunPhase.RUNNING
    st = wait_done(reborn, 1, ext)
    assert st.phase is RunPhase.FAILED and st.exit_code == 7


def test_killed_shepherd_means_lost_and_the_orphan_is_killed(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path)
    ext = ex.start(launch(tmp_path, 1, ["sleep", "60"]))
    wait_running(ex, 1, ext)
    state = json.loads((tmp_path / "1" / "run-0" / "state.json").read_text())
    os.kill(state["shepherd_pid"], signal.SIGKILL)
    deadline = time.monotonic() + 5
    while alive(state["shepherd_pid"]) and time.monotonic() < deadline:
        time.sleep(0.02)
    (st,) = ex.reconcile([(1, 0, ext)])
    assert st.phase is RunPhase.LOST and "shepherd" in (st.reason or "")
    time.sleep(0.2)
    assert not alive(state["pid"])



def test_a_slice_is_handed_to_the_run_by_its_mig_uuid(tmp_path: Path) -> None:
    """A node whose inventory names its devices (MIG slices): the run's variable names them, not indexes."""
    import dataclasses
    ex = LocalExecutor(tmp_path)
    code = "import os; print(os.environ['CUDA_VISIBLE_DEVICES'])"
    mig = ("MIG-aaaa1111-0000-5000-8000-000000000000", "MIG-bbbb2222-0000-5000-8000-000000000000",
           "MIG-cccc3333-0000-5000-8000-000000000000")
    spec = dataclasses.replace(launch(tmp_path, 1, [sys.executable, "-c", code], devices=(0, 2)),
                               flavor="h100.1g.10gb", device_ids={"h100-node-01": mig})
    st = wait_done(ex, 1, ex.start(spec))
    assert st.phase is RunPhase.SUCCEEDED
    out, _ = ex.log_paths(tmp_path / "1")
    assert out.read_text().splitlines()[-1] == f"{mig[0]},{mig[2]}"  # (the log starts with a header line)
