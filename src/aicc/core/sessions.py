"""Interactive sessions: what a person sees of a run of kind ``session``, and the rules of its life.

A session is a job row (``RunKind.SESSION``) admitted and charged like any job; this module only adds what is
particular to it: which server it runs (JupyterLab, or JupyterLab opened on a terminal), the phase a person
sees (pending → starting → ready → ended), when it is idle long enough to be stopped, and when the page should
warn that the time limit is near. No I/O here: the service and the watcher feed it times and states.
"""

from __future__ import annotations

import datetime as dt
import enum
import shlex
from dataclasses import dataclass

from aicc.core.jobs.state import JobState

SOCKET_NAME = "session.sock"
"""The session's Unix socket, in its job directory: only the server's proxy ever connects to it."""
WARN_BEFORE_S = 600
"""The portal warns this long before a session reaches its time limit."""


class SessionKind(enum.StrEnum):
    JUPYTER = "jupyter"
    TERMINAL = "terminal"

    @property
    def landing(self) -> str:
        """Where Open leads, under the session's base URL."""
        return "lab" if self is SessionKind.JUPYTER else "lab/terminals/1"


class SessionPhase(enum.StrEnum):
    PENDING = "pending"  # waiting for capacity (the job's reason says why)
    STARTING = "starting"  # running, the server not answering yet
    READY = "ready"  # answering through the proxy
    ENDED = "ended"


def phase(state: str, ready_at: dt.datetime | None) -> SessionPhase:
    job_state = JobState(state)
    if job_state.finished:
        return SessionPhase.ENDED
    if job_state is JobState.RUNNING:
        return SessionPhase.READY if ready_at is not None else SessionPhase.STARTING
    return SessionPhase.PENDING


def base_path(job_id: int) -> str:
    """The stable URL prefix of a session: the same string the server runs under, so no path is rewritten."""
    return f"/s/{job_id}/"


def idle_for(last_activity: dt.datetime | None, ready_at: dt.datetime | None, now: dt.datetime) -> float:
    """Seconds since anything happened in the session (its start counts as activity)."""
    latest = max((t for t in (last_activity, ready_at) if t is not None), default=None)
    return 0.0 if latest is None else max(0.0, (now - latest).total_seconds())


def should_cull(idle_s: float, idle_limit_s: int, connections: int) -> bool:
    """Idle past the limit. A browser tab left open keeps a websocket but no activity: it does not count."""
    del connections  # JupyterLab's last_activity already moves with every message; an open tab alone is idle
    return idle_limit_s > 0 and idle_s >= idle_limit_s


def cull_warning_window(idle_limit_s: int) -> float:
    """How long before an idle session is stopped its owner is told: ten minutes, or half a short limit."""
    return min(600.0, idle_limit_s / 2)


def should_warn(idle_s: float, idle_limit_s: int) -> bool:
    """Idle long enough that the cull is near (and not yet due)."""
    return idle_limit_s > 0 and idle_limit_s - cull_warning_window(idle_limit_s) <= idle_s < idle_limit_s


def seconds_left(started_at: dt.datetime | None, time_limit_s: int, now: dt.datetime) -> float | None:
    if started_at is None:
        return None
    return time_limit_s - (now - started_at).total_seconds()


def warn_time_limit(left_s: float | None) -> bool:
    return left_s is not None and 0 < left_s <= WARN_BEFORE_S


LAUNCH = """import os, sys
path = os.environ.get("PATH", "")
os.environ["PATH"] = "/nonexistent"
from jupyterlab.labapp import main
os.environ["PATH"] = path
sys.exit(main())"""
"""JupyterLab's own entry point with ``node`` out of sight while it is imported. At import JupyterLab runs
``node yarn.js config`` to learn an npm registry a session never uses (it builds no extensions): measured here,
0.76-0.90 CPU-s for a server's start and first page with the call, 0.43-0.48 without, and a class starts
thirty servers at once. The server, its kernels and its terminals get the run's ``PATH`` back before it starts."""


@dataclass(frozen=True, slots=True)
class ServerCommand:
    """How a session's server is started inside its run: ``/bin/sh -c`` in its job directory, so the job id
    (its URL prefix) and the home directory come from the run's environment, and the token from
    ``JUPYTER_TOKEN`` in it, never from the command line another process could read."""

    jupyter: str
    python: str | None = None
    """The interpreter of ``jupyter``'s environment, when known: the server then starts through ``LAUNCH``."""

    def argv(self) -> list[str]:
        fixed = [
            "--no-browser", f"--ServerApp.sock={SOCKET_NAME}", "--ServerApp.sock_mode=0600",
            "--ServerApp.allow_remote_access=True", "--ServerApp.terminals_enabled=True",
            "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            # a class starts thirty of these on a few cores: leave out what a session does not use (the language
            # server bridge scans for servers at start; the classic-notebook shim; the PyPI extension manager,
            # which a read-only environment could not install into anyway): about a quarter of a start's CPU
            "--ServerApp.jpserver_extensions={'jupyter_lsp': False, 'notebook_shim': False}",
            "--LabApp.extension_manager=readonly",
        ]
        flags = " ".join(shlex.quote(f) for f in fixed)
        per_run = '"--ServerApp.base_url=/s/$AICC_JOB_ID/" "--ServerApp.root_dir=${AICC_WORKSPACE:-$HOME}"'
        program = shlex.quote(self.jupyter) if self.python is None else \
            f"{shlex.quote(self.python)} -c {shlex.quote(LAUNCH)}"
        return ["/bin/sh", "-c", f"rm -f {SOCKET_NAME}; exec {program} {flags} {per_run}"]
