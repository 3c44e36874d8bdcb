"""The rules of a session's life: the phase a person sees, idleness, the time-limit warning, its command."""

from __future__ import annotations

import datetime as dt

import pytest

from aicc.core import sessions as core
from aicc.core.sessions import SessionPhase

T0 = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("state", "ready", "phase"), [
    ("pending", None, SessionPhase.PENDING), ("admitted", None, SessionPhase.PENDING),
    ("running", None, SessionPhase.STARTING), ("running", T0, SessionPhase.READY),
    ("cancelled", T0, SessionPhase.ENDED), ("failed", None, SessionPhase.ENDED),
    ("timed_out", T0, SessionPhase.ENDED),
])
def test_phase_follows_the_job_and_readiness(state: str, ready: dt.datetime | None, phase: SessionPhase) -> None:
    assert core.phase(state, ready) is phase


def test_idle_counts_from_the_latest_activity_or_from_ready() -> None:
    now = T0 + dt.timedelta(minutes=30)
    assert core.idle_for(None, T0, now) == 1800
    assert core.idle_for(T0 + dt.timedelta(minutes=25), T0, now) == 300
    assert core.idle_for(None, None, now) == 0


def test_culling_at_the_limit_and_never_with_limit_zero() -> None:
    assert core.should_cull(900, 900, connections=1)
    assert not core.should_cull(899, 900, connections=0)
    assert not core.should_cull(10**6, 0, connections=0)


def test_warning_only_in_the_last_ten_minutes() -> None:
    assert not core.warn_time_limit(core.seconds_left(T0, 3600, T0 + dt.timedelta(minutes=49)))
    assert core.warn_time_limit(core.seconds_left(T0, 3600, T0 + dt.timedelta(minutes=51)))
    assert not core.warn_time_limit(core.seconds_left(T0, 3600, T0 + dt.timedelta(minutes=61)))
    assert not core.warn_time_limit(core.seconds_left(None, 3600, T0))


def test_the_server_listens_on_its_socket_under_its_own_prefix_with_no_token_on_its_command_line() -> None:
    argv = core.ServerCommand("/opt/aicc/jupyter/bin/jupyter-lab").argv()
    assert argv[:2] == ["/bin/sh", "-c"]
    script = argv[2]
    assert "--ServerApp.sock=session.sock" in script and '"--ServerApp.base_url=/s/$AICC_JOB_ID/"' in script
    assert "token" not in script.lower()  # JupyterLab reads JUPYTER_TOKEN from the run's environment
    assert core.base_path(7) == "/s/7/" and core.SessionKind.TERMINAL.landing == "lab/terminals/1"


def test_a_known_interpreter_starts_the_server_with_node_out_of_sight_only_while_jupyterlab_imports() -> None:
    script = core.ServerCommand("/opt/j/bin/jupyter-lab", "/opt/j/bin/python").argv()[2]
    assert script.startswith("rm -f session.sock; exec /opt/j/bin/python -c ")
    assert "/opt/j/bin/jupyter-lab" not in script and "--ServerApp.sock=session.sock" in script
    code = core.LAUNCH
    hidden, imported, restored, started = (code.index('os.environ["PATH"] = "/nonexistent"'),
                                           code.index("from jupyterlab.labapp import main"),
                                           code.index('os.environ["PATH"] = path'), code.index("main()"))
    assert hidden < imported < restored < started  # kernels and terminals get the run's PATH back
    plain = core.ServerCommand("jupyter-lab").argv()[2]  # an image's own, on its PATH
    assert "exec jupyter-lab " in plain and "-c" not in plain.split("exec", 1)[1].split()[0]
