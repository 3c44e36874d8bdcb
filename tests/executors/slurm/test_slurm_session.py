"""An interactive session on Slurm: the same JupyterLab command the server gives a session, started as a batch
step under the project's uid, listening on the socket in its job directory where the proxy looks for it
(``services.sessions.target``), and answering only with its own token. The node here is the server's host
(the test cluster), as for Unix sockets it must be."""

from __future__ import annotations

import dataclasses
import http.client
import os
import secrets
import shutil
import socket
import tempfile
import time
from pathlib import Path

from aicc.config import load_settings
from aicc.core import sessions as core
from aicc.executors.slurm import SlurmExecutor
from aicc.services.sessions import _interpreter_of, socket_problem

UID = 200_044


def _status(sock: Path, path: str, token: str | None) -> int:
    class Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.settimeout(10)
            self.sock.connect(str(sock))

    conn = Conn("session", timeout=10)
    conn.request("GET", path, headers={"Authorization": f"token {token}"} if token else {})
    status = conn.getresponse().status
    conn.close()
    return status


def test_a_jupyterlab_session_on_slurm_is_reached_on_its_socket_with_its_token_alone(
    slurm_executor: SlurmExecutor, make_launch, wait_run  # type: ignore[no-untyped-def]
) -> None:
    jupyter = load_settings({}).session_jupyter
    assert Path(jupyter).exists(), "run scripts/install-jupyter (CI does)"
    token = secrets.token_hex(24)
    argv = core.ServerCommand(jupyter, _interpreter_of(jupyter)).argv()
    jobs = Path(tempfile.mkdtemp(prefix="aicc-s-", dir="/tmp"))  # a socket's path has at most 107 bytes: a short
    jobs.chmod(0o711)  # jobs directory, as a center's AICC_HOME is (test workers' tmp paths are longer)
    launch = dataclasses.replace(make_launch(argv, job_id=73, env={"JUPYTER_TOKEN": token}), unix_uid=UID,
                                 memory_mb=1024, workdir=jobs / "73")
    ext = slurm_executor.start(launch)
    sock = launch.workdir / core.SOCKET_NAME  # where the proxy connects for session 73
    deadline = time.monotonic() + 120
    while socket_problem(sock) is not None and time.monotonic() < deadline:
        time.sleep(0.3)
    assert socket_problem(sock) is None, (launch.workdir / "stderr.log").read_text() \
        if (launch.workdir / "stderr.log").exists() else "no log"
    assert os.stat(sock).st_uid == UID  # made by the session as its project, not by root
    status = f"/s/{launch.job_id}/api/status"
    while _status(sock, status, token) != 200 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _status(sock, status, token) == 200
    assert _status(sock, status, None) == 403 and _status(sock, status, secrets.token_hex(24)) == 403
    assert wait_run(slurm_executor, (73, 1, ext), lambda s: s.phase.value == "running", 30)
    slurm_executor.cancel(ext, 2)
    assert wait_run(slurm_executor, (73, 1, ext), lambda s: s.phase.finished, 60).phase.value == "cancelled"
    shutil.rmtree(jobs, ignore_errors=True)
