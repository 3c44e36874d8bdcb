"""The shepherd: one small process per run, like Slurm's slurmstepd.

It outlives the controller (it is started in a new session and detaches), so a
restart of the API server never kills a job. It starts the job as its own
process group, enforces the time limit, forwards a cancel (SIGTERM to the
group, a grace period, SIGKILL) and writes what happened to ``exit.json``
(atomically) in the run directory, where any later controller reads it.

Standard library only: it starts on every job, and its start-up time is the
admission-to-start latency users see.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def proc_start_ticks(pid: int) -> int | None:
    """Start time of a process in clock ticks since boot: with the pid, it names a process uniquely."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def run(run_dir: Path) -> int:
    spec = json.loads((run_dir / "spec.json").read_text())
    grace = float(spec.get("grace_s", 10))
    limit = float(spec["time_limit_s"])
    stdout = open(spec["stdout"], "ab")  # noqa: SIM115 - handed to the child, closed at exit
    stderr = open(spec["stderr"], "ab")  # noqa: SIM115
    header = f"== attempt {spec['attempt']} started {time.strftime('%Y-%m-%d %H:%M:%S')} ==\n".encode()
    stdout.write(header)
    stdout.flush()
    cancelled = {"by": ""}

    def on_term(_sig: int, _frame: object) -> None:
        cancelled["by"] = "cancel"

    signal.signal(signal.SIGTERM, on_term)
    try:
        child = subprocess.Popen(
            spec["argv"], cwd=spec["cwd"], env=spec["env"], stdin=subprocess.DEVNULL, stdout=stdout,
            stderr=stderr, start_new_session=True,
        )
    except OSError as exc:
        write_json(run_dir / "exit.json", {"phase": "failed", "exit_code": 127, "ended_at": time.time(),
                                           "reason": f"could not start the command: {exc.strerror}"})
        return 0
    started = time.time()
    write_json(run_dir / "state.json", {
        "shepherd_pid": os.getpid(), "shepherd_ticks": proc_start_ticks(os.getpid()), "pid": child.pid,
        "pgid": child.pid, "ticks": proc_start_ticks(child.pid), "boot_id": boot_id(), "started_at": started,
    })
    reason = ""
    deadline = started + limit
    stop_at: float | None = None
    while True:
        try:
            code = child.wait(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            pass
        now = time.time()
        if stop_at is None and (cancelled["by"] or now >= deadline):
            reason = cancelled["by"] or "time_limit"
            _kill_group(child.pid, signal.SIGTERM)
            stop_at = now + grace
        elif stop_at is not None and now >= stop_at:
            _kill_group(child.pid, signal.SIGKILL)
    ended = time.time()
    _kill_group(child.pid, signal.SIGKILL)  # nothing of the job outlives it
    if reason == "cancel":
        phase, why = "cancelled", "cancelled"
    elif reason == "time_limit":
        phase, why = "timed_out", f"time limit of {limit:g} s reached"
    elif code == 0:
        phase, why = "succeeded", ""
    elif code < 0:
        phase, why = "failed", f"killed by signal {signal.Signals(-code).name}"
    else:
        phase, why = "failed", f"exited with code {code}"
    write_json(run_dir / "exit.json", {"phase": phase, "exit_code": code, "started_at": started, "ended_at": ended,
                                       "reason": why})
    return 0


def main() -> int:
    run_dir = Path(sys.argv[1])
    if len(sys.argv) > 2 and sys.argv[2] == "--detach":
        if os.fork() > 0:
            return 0  # the caller reaps us at once; the grandchild is adopted by init
        os.setsid()
    return run(run_dir)


if __name__ == "__main__":
    sys.exit(main())
