"""The shepherd: one small process per run, like Slurm's slurmstepd.

It outlives the controller (it detaches into its own session), so a restart of
the API server never kills a job. It starts the job as its own process group,
enforces the time limit, turns a SIGTERM from the controller into a cancel
(SIGTERM to the group, a grace period, SIGKILL), and writes what happened to
``exit.json`` (atomically) in the run directory, where any later controller
reads it.

Standard library only, and only its cheapest parts (no ``subprocess``): it is
started as ``python -I -S shepherd.py`` for every job, and its start-up time is
most of the admission-to-start latency users see. It loads the runner
(``aicc.runner``, standard library too) from the source tree it sits in: when
the spec carries a ``run``, the job gets its cgroups, the project's identity
and bubblewrap's view through it; the shepherd signals and kills the job
through the cgroup, which holds every process of it wherever it went.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # started as a script (python -I -S shepherd.py): find the aicc package
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from aicc.runner import cgroups as _cgroups
from aicc.runner import launch as _runner
from aicc.runner.spec import RunSpec


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
    try:  # noqa: SIM105 - contextlib would cost start-up time
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Job:
    """The running job: its pid (bubblewrap's, or the bare process's) and its cgroups when isolated."""

    def __init__(self, pid: int, cg: _cgroups.Cgroup | None) -> None:
        self.pid = pid
        self.cg = cg

    def signal(self, sig: int) -> None:
        """The job's own processes; bubblewrap's monitor and init are spared a SIGTERM, so the job gets its
        grace period and bubblewrap reports its exit."""
        if self.cg is None or sig == signal.SIGKILL:
            _kill_group(self.pid, sig)
        if self.cg is not None:
            spare = frozenset() if sig == signal.SIGKILL else frozenset({self.pid, *_runner.children_of(self.pid)})
            self.cg.signal_all(sig, spare)


_SPAWNED: list[subprocess.Popen[bytes]] = []
"""Jobs started by ``launch.spawn``, held so that ``subprocess`` never reaps one behind our ``waitpid``."""


def _spawn(spec: dict[str, Any], stdout: int, stderr: int, run: RunSpec | None = None,
           cg: _cgroups.Cgroup | None = None, bwrap: str = "", netns: int | None = None) -> int:
    """fork + exec into a new session; returns the pid (also the process group id)."""
    if run is not None and cg is not None and netns is None:
        proc = _runner.spawn(run, cg, bwrap, stdout, stderr)
        if proc is not None:
            _SPAWNED.append(proc)
            return proc.pid
    argv = spec["argv"]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the job
        try:
            os.close(r)
            os.setsid()
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(stdout, 1)
            os.dup2(stderr, 2)
            os.set_inheritable(w, False)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            if netns is not None:
                from aicc.executors.local.gang import setns

                setns(netns)
            if run is not None and cg is not None:
                _runner.exec_child(run, cg, bwrap)  # only returns by raising
            os.chdir(spec["cwd"])
            os.execvpe(argv[0], argv, spec["env"])  # noqa: S606 - running the user's job is the point
        except BaseException as exc:
            os.write(w, ((exc.strerror if isinstance(exc, OSError) else None) or str(exc)).encode())
        os._exit(127)
    os.close(w)
    error = os.read(r, 4096)
    os.close(r)
    if error:
        os.waitpid(pid, 0)
        raise OSError(error.decode(errors="replace"))
    return pid


def run(run_dir: Path) -> int:
    spec = json.loads((run_dir / "spec.json").read_text())
    if spec.get("tasks"):  # a multi-node run: its ranks together (gang.py)
        from aicc.executors.local.gang import run_tasks

        return run_tasks(run_dir, spec)
    grace = float(spec.get("grace_s", 10))
    limit = float(spec["time_limit_s"])
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW  # a job's link never redirects root's write
    stdout = os.open(spec["stdout"], flags, 0o640)
    stderr = os.open(spec["stderr"], flags, 0o640)
    os.write(stdout, f"== attempt {spec['attempt']} started {time.strftime('%Y-%m-%d %H:%M:%S')} ==\n".encode())
    cancelled = {"by": ""}

    def on_term(_sig: int, _frame: object) -> None:
        cancelled["by"] = "cancel"

    signal.signal(signal.SIGTERM, on_term)
    run = RunSpec.from_json(spec["run"]) if spec.get("run") else None
    cg = None
    try:
        if run is not None:
            missing = _runner.check_command(run)
            if missing:
                raise OSError(missing)
            bwrap = _runner.bwrap_path()
            try:
                cg = _runner.prepare(run)
            except _runner.IsolationUnavailable as exc:
                return _not_started(run_dir, spec, f"the job could not be isolated: {exc}")
            pid = _spawn(spec, stdout, stderr, run, cg, bwrap)
        else:
            pid = _spawn(spec, stdout, stderr)
    except (OSError, _runner.IsolationUnavailable) as exc:
        if cg is not None:
            cg.close()
        return _not_started(run_dir, spec, f"could not start the command: {exc}")
    job = Job(pid, cg)
    started = time.time()
    relay = spec.get("relay")
    socket_path: Path | None = None
    if relay:  # a service replica: its port inside, bridged to a socket in the run directory
        from aicc.runner import relay as _relay

        socket_path = _relay.start(run_dir, int(relay["port"]), pid, _runner.children_of)
    write_json(run_dir / "state.json", {
        "shepherd_pid": os.getpid(), "shepherd_ticks": proc_start_ticks(os.getpid()), "pid": pid,
        "pgid": pid, "ticks": proc_start_ticks(pid), "boot_id": boot_id(), "started_at": started,
        "cgroup": run.name if run is not None else None,
    })
    reason = ""
    deadline = started + limit
    stop_at: float | None = None
    status = 0
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            break
        if done:
            break
        now = time.time()
        if not cancelled["by"] and os.path.exists(run_dir / "cancel"):
            cancelled["by"] = "cancel"  # asked before this shepherd was up to receive a signal
        if stop_at is None and (cancelled["by"] or now >= deadline):
            reason = cancelled["by"] or "time_limit"
            job.signal(signal.SIGTERM)
            stop_at = now + grace
        elif stop_at is not None and now >= stop_at:
            job.signal(signal.SIGKILL)
        time.sleep(0.05)
    ended = time.time()
    if socket_path is not None:  # out of the gateway's reach at once: new connections fail fast, never hang
        try:  # noqa: SIM105 - contextlib would cost start-up time
            os.unlink(socket_path)
        except OSError:
            pass
    _kill_group(pid, signal.SIGKILL)  # nothing of the job outlives it
    code = os.waitstatus_to_exitcode(status)
    oom = False
    if cg is not None:
        oom = cg.oom_killed()
        cg.close()
        if code > 128 and code - 128 < signal.NSIG:
            code = 128 - code  # bubblewrap reports a job killed by signal n as 128 + n
    if oom and reason != "cancel":
        assert run is not None
        phase, why = "failed", f"out of memory (limit {_cgroups.human_mb(run.limits.memory_mb)})"
    elif reason == "cancel":
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
    notify(spec.get("notify"))
    return 0


def _not_started(run_dir: Path, spec: dict[str, Any], why: str) -> int:
    write_json(run_dir / "exit.json", {"phase": "failed", "exit_code": 127, "ended_at": time.time(), "reason": why})
    notify(spec.get("notify"))
    return 0


def notify(path: str | None) -> None:
    """Wake the controller (a datagram to its socket) so a finish frees capacity at once, not at the next tick."""
    if not path:
        return
    import socket

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(b"exit", path)
    except OSError:
        pass  # no controller listening: it will see the exit at its next tick


def zygote() -> int:
    """Fork a shepherd for every run directory read from stdin; exit when stdin closes.

    Python's start-up is most of a shepherd's cost; forking an interpreter that is
    already up takes about a millisecond. Children are reaped by the kernel
    (SIGCHLD ignored) and each shepherd starts its own session, so shepherds live
    on when the zygote or the controller goes away.
    """
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    _runner.warm()
    for line in sys.stdin:
        run_dir = line.strip()
        if not run_dir:
            continue
        if os.fork() == 0:
            os.setsid()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                run(Path(run_dir))
            finally:
                os._exit(0)
    return 0


def main() -> int:
    if sys.argv[1] == "--zygote":
        return zygote()
    run_dir = Path(sys.argv[1])
    if len(sys.argv) > 2 and sys.argv[2] == "--detach":
        if os.fork() > 0:
            return 0  # the caller reaps us at once; the grandchild is adopted by init
        os.setsid()
    return run(run_dir)


if __name__ == "__main__":
    sys.exit(main())
