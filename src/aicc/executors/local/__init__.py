"""The local executor: jobs as process groups on this machine, each watched by a shepherd.

On disk, per run (``<jobs_dir>/<job id>/run-<attempt>/``): ``spec.json`` (what to
run), ``started`` (created exclusively: a run starts at most once), ``state.json``
(pids, written by the shepherd once the job runs), ``exit.json`` (how it ended).
Output goes to ``stdout.log``/``stderr.log`` in the job's directory, attempts
appended one after another with a header line. Everything ``reconcile`` needs is
in those files, so a restarted controller re-adopts what runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aicc.executors.base import Launch, RunPhase, RunStatus
from aicc.executors.local import shepherd
from aicc.executors.local.shepherd import boot_id, proc_start_ticks, write_json

SHEPHERD = shepherd.__file__
STARTING_GRACE_S = 30.0


class SandboxUnavailable(RuntimeError):
    """A sensitive-data job asked for a sandbox this machine cannot provide."""


class LocalExecutor:
    name = "local"

    def __init__(self, jobs_dir: Path, *, grace_s: float = 10.0, python: str = sys.executable) -> None:
        self.jobs_dir = jobs_dir
        self.grace_s = grace_s
        self.python = python
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
        return workdir / "stdout.log", workdir / "stderr.log"

    # -- protocol ------------------------------------------------------------------------------
    def start(self, launch: Launch) -> str:
        external_id = f"local:{launch.job_id}:{launch.attempt}"
        run_dir = self._run_dir(external_id)
        run_dir.mkdir(parents=True, exist_ok=True)
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
            env[launch.device_env] = ",".join(map(str, devices))
        if launch.image is not None:  # the image path (aicc.images.launch); the data zone's sandbox has none yet
            if launch.sandbox is not None:
                raise SandboxUnavailable("a job on sensitive data cannot run in an image yet: submit it without one")
            from aicc.images.launch import image_argv

            argv = image_argv(argv, launch.image, workdir=launch.workdir, device_env=launch.device_env,
                              devices=devices, env={k: v for k, v in env.items() if k not in ("PATH", "HOME")})
        elif launch.sandbox is not None:
            try:
                from aicc.executors.sandbox import wrap  # type: ignore[import-not-found,unused-ignore]
            except ImportError as exc:
                raise SandboxUnavailable("this center has no sandbox for sensitive-data jobs") from exc
            inside = {k: v for k, v in env.items() if k != "HOME"}  # the sandbox sets HOME to its private /tmp
            argv = wrap(argv, launch.sandbox, env=inside)
        write_json(run_dir / "spec.json", {
            "argv": argv, "cwd": str(launch.workdir), "env": env, "time_limit_s": launch.time_limit_s,
            "grace_s": float(launch.extra.get("grace_s", self.grace_s)), "attempt": launch.attempt,
            "stdout": str(stdout), "stderr": str(stderr),
            "notify": str(self.notify_path) if self.notify_path else None,
        })
        self._spawn_shepherd(run_dir)
        return external_id

    def reconcile(self, runs: Sequence[tuple[int, int, str]]) -> list[RunStatus]:
        return [self._status(job_id, attempt, ext) for job_id, attempt, ext in runs]

    def _status(self, job_id: int, attempt: int, ext: str) -> RunStatus:
        run_dir = self._run_dir(ext)
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
        # the shepherd is gone without writing exit.json: killed, or the machine rebooted
        if state.get("boot_id") == boot_id() and _alive(state["pid"], state.get("ticks"), state.get("boot_id")):
            _killpg(state["pgid"], signal.SIGKILL)
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
