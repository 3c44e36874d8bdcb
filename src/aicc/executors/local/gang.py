"""The shepherd's multi-node mode: every rank of a run started, isolated on its own, and watched together.

Imported by the shepherd only for a run with ``tasks`` (``ranks.py`` writes them), so a single run's start
pays nothing for it. All or nothing: the first rank that fails on its own ends the run, named in the reason;
a cancel or the time limit stops every rank. Each rank's output goes through a pipe to the shepherd, which
writes whole lines, labelled with the rank (``srun --label``'s format), into the job's two log files. A
project without network still needs its ranks to meet: they share one network namespace of the job's own,
loopback only, made here.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from aicc.executors.local.shepherd import (
    Job,
    _kill_group,
    _not_started,
    _spawn,
    boot_id,
    notify,
    proc_start_ticks,
    write_json,
)
from aicc.runner import launch as _runner
from aicc.runner.spec import RunSpec

CLONE_NEWNET = 0x40000000


def setns(fd: int) -> None:
    import ctypes

    if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "cannot join the job's network namespace")


def _job_netns() -> int:
    """A network namespace of the job's own with only loopback, up: its ranks meet there and nowhere else.
    Made by a child that unshares and waits; its namespace lives on in the ranks that join it."""
    import ctypes
    import fcntl
    import socket
    import struct

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "unshare")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                flags = struct.unpack("16sH14s", fcntl.ioctl(s, 0x8913, struct.pack("16sH14s", b"lo", 0, b"")))[1]
                fcntl.ioctl(s, 0x8914, struct.pack("16sH14s", b"lo", flags | 1, b""))  # SIOCSIFFLAGS: IFF_UP
            os.write(w, b"k")
            time.sleep(60)
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    ready = os.read(r, 1)
    os.close(r)
    try:
        if ready != b"k":
            raise OSError("could not make the job's network namespace")
        return os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


class Rank:
    """One task of a gang: its job, its output pipes and what is left of a line not yet finished."""

    def __init__(self, rank: int, job: Job, fds: list[int], label: bytes) -> None:
        self.rank, self.job, self.fds, self.label = rank, job, fds, label
        self.partial = {fd: b"" for fd in fds}
        self.code: int | None = None


def _pump(ranks: list[Rank], outs: dict[int, int], timeout: float) -> None:
    """Copy what the ranks wrote, whole lines at a time, each labelled with its rank, into the merged logs
    (``srun --label``'s format): lines of different ranks never mix, and no rank can forge another's label."""
    import select

    by_fd = {fd: (r, i) for r in ranks for i, fd in enumerate(r.fds) if fd in r.partial}
    if not by_fd:
        time.sleep(timeout)
        return
    ready, _, _ = select.select(list(by_fd), [], [], timeout)
    for fd in ready:
        rank, stream = by_fd[fd]
        chunk = os.read(fd, 65536)
        data = rank.partial[fd] + chunk
        if not chunk:  # the rank closed it (exited): its last line, unfinished, still gets its label
            os.close(fd)
            del rank.partial[fd]
            if data:
                os.write(outs[stream], rank.label + data + b"\n")
            continue
        end = data.rfind(b"\n") + 1
        if end == 0 and len(data) > 65536:
            end = len(data)  # a very long line goes out in pieces, each labelled
        if end:
            lines = data[:end].splitlines(keepends=True)
            os.write(outs[stream], b"".join(rank.label + line + (b"" if line.endswith(b"\n") else b"\n")
                                            for line in lines))
        rank.partial[fd] = data[end:]


def run_tasks(run_dir: Path, spec: dict[str, Any]) -> int:
    """A gang: every task started, isolated on its own, then watched together. The first rank that fails on
    its own ends the run (the others get SIGTERM, the grace, SIGKILL) and names itself in the reason; a
    cancel or the time limit stops every rank."""
    grace = float(spec.get("grace_s", 10))
    limit = float(spec["time_limit_s"])
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
    outs = {0: os.open(spec["stdout"], flags, 0o640), 1: os.open(spec["stderr"], flags, 0o640)}
    world = len(spec["tasks"])
    os.write(outs[0], f"== attempt {spec['attempt']} started {time.strftime('%Y-%m-%d %H:%M:%S')}: {world} "
                      f"tasks ==\n".encode())
    cancelled = {"by": ""}
    signal.signal(signal.SIGTERM, lambda _s, _f: cancelled.update(by="cancel"))
    ranks: list[Rank] = []
    netns = None
    try:
        bwrap = _runner.bwrap_path() if any(t.get("run") for t in spec["tasks"]) else ""
        if any(t.get("job_netns") for t in spec["tasks"]):
            netns = _job_netns()
        for task in spec["tasks"]:
            run = RunSpec.from_json(task["run"]) if task.get("run") else None
            if run is not None:
                missing = _runner.check_command(run)
                if missing:
                    raise OSError(missing)
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            cg = _runner.prepare(run) if run is not None else None
            try:
                pid = _spawn({**spec, **task, "cwd": spec["cwd"]}, out_w, err_w, run, cg, bwrap,
                             netns if task.get("job_netns") else None)
            except BaseException:
                if cg is not None:
                    cg.close()
                raise
            finally:
                os.close(out_w)
                os.close(err_w)
            label = b"" if task.get("mpi") else f"{task['rank']:>{len(str(world - 1))}}: ".encode()
            ranks.append(Rank(int(task["rank"]), Job(pid, cg), [out_r, err_r], label))
    except (OSError, _runner.IsolationUnavailable) as exc:
        for r in ranks:
            r.job.signal(signal.SIGKILL)
            os.waitpid(r.job.pid, 0)
            if r.job.cg is not None:
                r.job.cg.close()
        return _not_started(run_dir, spec, f"could not start the command: {exc}")
    finally:
        if netns is not None:
            os.close(netns)
    started = time.time()
    first = ranks[0].job
    write_json(run_dir / "state.json", {
        "shepherd_pid": os.getpid(), "shepherd_ticks": proc_start_ticks(os.getpid()), "pid": first.pid,
        "pgid": first.pid, "ticks": proc_start_ticks(first.pid), "boot_id": boot_id(), "started_at": started,
        "pids": [r.job.pid for r in ranks], "cgroups": [t["run"]["name"] for t in spec["tasks"] if t.get("run")],
    })
    reason, failed = "", None
    deadline, stop_at = started + limit, None
    while any(r.code is None for r in ranks):
        for r in ranks:
            if r.code is None:
                done, status = os.waitpid(r.job.pid, os.WNOHANG)
                if done:
                    r.code = os.waitstatus_to_exitcode(status)
                    if r.job.cg is not None and r.code > 128 and r.code - 128 < signal.NSIG:
                        r.code = 128 - r.code
                    if r.code != 0 and failed is None and not reason:
                        failed, reason = r, "rank_failed"
        now = time.time()
        if not cancelled["by"] and os.path.exists(run_dir / "cancel"):
            cancelled["by"] = "cancel"
        if stop_at is None and (cancelled["by"] or now >= deadline or reason):
            reason = reason or cancelled["by"] or "time_limit"
            for r in ranks:
                if r.code is None:
                    r.job.signal(signal.SIGTERM)
            stop_at = now + grace
        elif stop_at is not None and now >= stop_at:
            for r in ranks:
                if r.code is None:
                    r.job.signal(signal.SIGKILL)
        _pump(ranks, outs, 0.05)
    ended = time.time()
    oom = [r for r in ranks if r.job.cg is not None and r.job.cg.oom_killed()]
    for r in ranks:  # nothing of the job outlives it, nor holds its pipes open
        _kill_group(r.job.pid, signal.SIGKILL)
        if r.job.cg is not None:
            r.job.cg.close()
    drain_until = time.time() + 2
    while any(r.partial for r in ranks) and time.time() < drain_until:
        _pump(ranks, outs, 0.05)
    code = failed.code if failed is not None and failed.code is not None else ranks[0].code or 0
    who = f"rank {failed.rank} " if failed is not None and not (len(ranks) == 1 and not ranks[0].label) else ""
    if oom and reason != "cancel":
        phase, why = "failed", f"rank {oom[0].rank} ran out of memory"
    elif reason == "cancel":
        phase, why = "cancelled", "cancelled"
    elif reason == "time_limit":
        phase, why = "timed_out", f"time limit of {limit:g} s reached"
    elif failed is None:
        phase, why = "succeeded", ""
    elif code < 0:
        phase, why = "failed", f"{who}killed by signal {signal.Signals(-code).name}"
    else:
        phase, why = "failed", f"{who}exited with code {code}"
    write_json(run_dir / "exit.json", {"phase": phase, "exit_code": code, "started_at": started, "ended_at": ended,
                                       "reason": why, "failed_rank": failed.rank if failed is not None else None})
    notify(spec.get("notify"))
    return 0
