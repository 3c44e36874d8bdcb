"""The local executor: every job isolated by the runner (``aicc.runner``), each watched by a shepherd.

On disk, per run (``<jobs_dir>/<job id>/run-<attempt>/``): ``spec.json`` (what to
run), ``started`` (created exclusively: a run starts at most once), ``state.json``
(pids, written by the shepherd once the job runs), ``exit.json`` (how it ended).
Output goes to ``stdout.log``/``stderr.log`` in the job's directory, attempts
appended one after another with a header line. Everything ``reconcile`` needs is
in those files, so a restarted controller re-adopts what runs.

Every run goes through the runner: its own cgroups, its project's uid, a bubblewrap view of the machine
(``isolation.py`` decides what it sees). A machine that cannot isolate (not root, no bubblewrap, no usable
cgroups) is reported once at start-up and each start fails with that reason: no job runs unisolated.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aicc.executors.base import LOG_FILES, Launch, RunPhase, RunStatus
from aicc.executors.discovery import selection
from aicc.executors.local import isolation, ranks, shepherd
from aicc.executors.local.shepherd import boot_id, proc_start_ticks, write_json
from aicc.executors.tasks import is_multi
from aicc.runner import cgroups, identity
from aicc.runner.identity import UidRange
from aicc.runner.launch import IsolationUnavailable
from aicc.runner.spec import Limits, RunSpec

SHEPHERD = shepherd.__file__
STARTING_GRACE_S = 30.0


log = logging.getLogger("aicc.executors.local")


class SandboxUnavailable(IsolationUnavailable):
    """A job asked for isolation this machine cannot provide (kept for callers of the data-zone era)."""


def isolation_problems(jobs_dir: Path | None = None, uids: UidRange | None = None) -> list[str]:
    """What stops this machine from isolating jobs, in words for the start-up log; empty when nothing."""
    uids = uids or UidRange()
    problems = identity.problems(span=(uids.base, uids.count))
    if not problems:  # cgroups are made by root: only worth probing when identity can be dropped
        missing = cgroups.probe()
        if missing:
            problems.append(missing)
    if jobs_dir is not None:
        blocked = isolation.traversal_problem(jobs_dir / "x")
        if blocked:
            problems.append(blocked)
    return problems


class LocalExecutor:
    name = "local"

    def __init__(self, jobs_dir: Path, *, grace_s: float = 10.0, python: str = sys.executable,
                 uids: UidRange | None = None, device_root: Path = Path("/dev")) -> None:
        self.jobs_dir = jobs_dir
        self.grace_s = grace_s
        self.python = python
        self.uids = uids or UidRange()
        self.device_root = device_root
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() in (0, self.jobs_dir.stat().st_uid):
            os.chmod(self.jobs_dir, 0o711)  # noqa: S103 - jobs pass to their own directory, never list the others
        self.problems = isolation_problems(self.jobs_dir, self.uids)
        for problem in self.problems:
            log.error("jobs cannot be isolated on this machine and will not start: %s", problem)
        self._zygote: subprocess.Popen[bytes] | None = None
        self._zygote_lock = threading.Lock()
        self.notify_path: Path | None = None
        """A Unix datagram socket the controller listens on; shepherds send to it when a run ends."""

    def _spawn_shepherd(self, run_dir: Path) -> None:
        """Through the zygote (fast); if it cannot be reached, start a shepherd directly (slow, always works)."""
        with self._zygote_lock:
            for _ in range(2):
                if self._zygote is None or self._zygote.poll() is not None:
                    self._zygote = subprocess.Popen(
                        [self.python, "-I", "-S", SHEPHERD, "--zygote"], stdin=subprocess.PIPE,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                    )
                try:
                    assert self._zygote.stdin is not None
                    self._zygote.stdin.write(f"{run_dir}\n".encode())
                    self._zygote.stdin.flush()
                    return
                except (BrokenPipeError, OSError):
                    self._zygote = None
        log = open(run_dir / "shepherd.log", "ab")  # noqa: SIM115 - closed right after the spawn
        try:
            proc = subprocess.Popen(
                [self.python, "-I", "-S", SHEPHERD, str(run_dir), "--detach"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True,
            )
            proc.wait(timeout=30)
        finally:
            log.close()

    def close(self) -> None:
        with self._zygote_lock:
            if self._zygote is not None and self._zygote.stdin is not None:
                self._zygote.stdin.close()
                self._zygote.wait(timeout=10)
            self._zygote = None

    # -- paths ---------------------------------------------------------------------------------
    def _run_dir(self, external_id: str) -> Path:
        _, job_id, attempt = external_id.split(":")
        return self.jobs_dir / str(int(job_id)) / f"run-{int(attempt)}"

    def log_paths(self, workdir: Path) -> tuple[Path, Path]:
        return workdir / LOG_FILES["stdout"], workdir / LOG_FILES["stderr"]

    # -- protocol ------------------------------------------------------------------------------
    def start(self, launch: Launch) -> str:
        external_id = f"local:{launch.job_id}:{launch.attempt}"
        run_dir = self._run_dir(external_id)
        self._make_run_dir(run_dir)
        try:
            fd = os.open(run_dir / "started", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return external_id  # started before (the controller restarted in between): never twice
        os.write(fd, str(time.time()).encode())
        os.close(fd)
        argv = list(launch.argv)
        stdout, stderr = self.log_paths(launch.workdir)
        devices = [d for p in launch.placements for d in p.devices]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(launch.workdir),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            **launch.env,
            "AICC_JOB_ID": str(launch.job_id),
            "AICC_RUN_ATTEMPT": str(launch.attempt),
            "AICC_JOB_NAME": launch.name,
            "AICC_FLAVOR": launch.flavor,
            "AICC_NODE": ",".join(p.node for p in launch.placements),
            "AICC_ACCELERATORS": str(len(devices)),
            "OMP_NUM_THREADS": str(launch.cpus),
        }
        if launch.device_env:
            env[launch.device_env] = ",".join(selection(launch, p.node, p.devices) for p in launch.placements
                                              if p.devices)
        tasks: list[dict[str, Any]] | None = None
        run: RunSpec | None = None
        try:
            if launch.image is not None and launch.sandbox is not None:
                raise IsolationUnavailable("a job on sensitive data cannot run in an image yet: submit it without one")
            if is_multi(launch):  # one isolated process per task, watched together (ranks.py)
                tasks = ranks.task_specs(launch, env, self.run_spec)
            else:
                run = self.run_spec(launch, env)
        except BaseException:
            (run_dir / "started").unlink()  # not started: a later try may start it
            raise
        write_json(run_dir / "spec.json", {
            "argv": argv, "cwd": str(launch.workdir), "env": env, "time_limit_s": launch.time_limit_s,
            "grace_s": float(launch.extra.get("grace_s", self.grace_s)), "attempt": launch.attempt,
            "stdout": str(stdout), "stderr": str(stderr),
            "notify": str(self.notify_path) if self.notify_path else None,
            "run": run.to_json() if run is not None else None, "tasks": tasks,
            "relay": {"port": int(launch.extra["service_port"])} if launch.extra.get("service_port") else None,
        })
        self._spawn_shepherd(run_dir)
        return external_id

    def run_spec(self, launch: Launch, env: dict[str, str], rootfs: Path | None = None) -> RunSpec | None:
        """How the runner isolates ``launch`` (``rootfs``: an unpacked image instead of the host's system).
        Raises IsolationUnavailable with the reason when this machine cannot isolate it: it never starts
        unisolated. (A benchmark overrides this to return None, today's bare process, for comparison only.)"""
        if self.problems:
            raise IsolationUnavailable("this job cannot be isolated here: " + "; ".join(self.problems))
        uid = isolation.uid_of(launch, self.uids)
        isolation.prepare_dirs(launch, uid)
        return isolation.run_spec(launch, env, uid=uid, device_root=self.device_root, rootfs=rootfs)

    def _make_run_dir(self, run_dir: Path) -> None:
        """The run's own directory, root's and nobody else's: one a job made in its place is moved aside."""
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            run_dir.mkdir(mode=0o700)
            return
        except FileExistsError:
            pass
        if not _trusted(run_dir):
            os.rename(run_dir, run_dir.with_name(f"{run_dir.name}.untrusted-{time.time_ns()}"))
            run_dir.mkdir(mode=0o700)

    def reconcile(self, runs: Sequence[tuple[int, int, str]]) -> list[RunStatus]:
        return [self._status(job_id, attempt, ext) for job_id, attempt, ext in runs]

    def _status(self, job_id: int, attempt: int, ext: str) -> RunStatus:
        run_dir = self._run_dir(ext)
        if run_dir.exists() and not _trusted(run_dir):
            return RunStatus(job_id, attempt, ext, RunPhase.LOST, ended_at=time.time(),
                             reason="the run's state directory was replaced (not the server's): run lost")
        done = _read(run_dir / "exit.json")
        state = _read(run_dir / "state.json")
        if done is not None:
            return RunStatus(job_id, attempt, ext, RunPhase(done["phase"]),
                             started_at=(state or done).get("started_at"), ended_at=done.get("ended_at"),
                             exit_code=done.get("exit_code"), reason=done.get("reason") or None)
        if state is None:
            started = (run_dir / "started")
            age = time.time() - started.stat().st_mtime if started.exists() else STARTING_GRACE_S + 1
            if age <= STARTING_GRACE_S:
                return RunStatus(job_id, attempt, ext, RunPhase.STARTING)
            return RunStatus(job_id, attempt, ext, RunPhase.LOST, ended_at=time.time(),
                             reason="the run never started (its shepherd did not come up)")
        if _alive(state["shepherd_pid"], state.get("shepherd_ticks"), state.get("boot_id")):
            return RunStatus(job_id, attempt, ext, RunPhase.RUNNING, started_at=state["started_at"])
        if (run_dir / "exit.json").exists():  # it wrote exit.json and left between our two reads
            return self._status(job_id, attempt, ext)
        # the shepherd is gone without writing exit.json: killed, or the machine rebooted
        if state.get("boot_id") == boot_id() and _alive(state["pid"], state.get("ticks"), state.get("boot_id")):
            _killpg(state["pgid"], signal.SIGKILL)
        _kill_cgroup(state)
        return RunStatus(job_id, attempt, ext, RunPhase.LOST, started_at=state["started_at"], ended_at=time.time(),
                         reason="the job's shepherd process vanished (machine restart or killed)")

    def cancel(self, external_id: str, grace_s: float) -> None:
        run_dir = self._run_dir(external_id)
        if _read(run_dir / "exit.json") is not None:
            return
        # a marker the shepherd polls: a cancel must not be lost when it comes before the shepherd is up
        with contextlib.suppress(FileNotFoundError):
            (run_dir / "cancel").touch()
        state = _read(run_dir / "state.json")
        if state is None:
            return
        if _alive(state["shepherd_pid"], state.get("shepherd_ticks"), state.get("boot_id")):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(state["shepherd_pid"]), signal.SIGTERM)  # the shepherd applies its grace, then SIGKILL
        elif _alive(state["pid"], state.get("ticks"), state.get("boot_id")):
            _killpg(state["pgid"], signal.SIGKILL)
            _kill_cgroup(state)


def _trusted(run_dir: Path) -> bool:
    """A directory (not a link) owned by this server's user: what the executor made, not what a job made."""
    try:
        st = os.lstat(run_dir)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()


def _kill_cgroup(state: dict[str, Any]) -> None:
    """The shepherd is gone: kill whatever of the run is left in its cgroups (every task's) and remove them."""
    names = [state.get("cgroup"), *state.get("cgroups", [])]
    for name in names:
        if isinstance(name, str) and name:
            with contextlib.suppress(cgroups.CgroupUnavailable, OSError, ValueError):
                cgroups.Cgroup(name, Limits()).close()


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _alive(pid: object, ticks: object, boot: object) -> bool:
    """The process still runs and is the same one (same start time, same boot), not a reused pid."""
    if not isinstance(pid, int) or boot != boot_id():
        return False
    now_ticks = proc_start_ticks(pid)
    if now_ticks is None or (ticks is not None and now_ticks != ticks):
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _killpg(pgid: object, sig: int) -> None:
    if isinstance(pgid, int):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
