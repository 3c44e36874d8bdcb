"""A service replica on Slurm: a long-running step as the project's uid, in its own network namespace, reached
through the relay the runner forks (a socket outside the run's view); gone from reach when the step ends."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import socket
import stat
import sys
import time
from pathlib import Path

from aicc.executors.slurm import SlurmExecutor
from aicc.runner.relay import engine_socket
from aicc.services.serving.replicas import probe

UID = 200_043


def _get(sock: Path, path: str) -> dict[str, object]:
    import http.client

    class Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.settimeout(5)
            self.sock.connect(str(sock))

    conn = Conn("replica", timeout=5)
    conn.request("GET", path)
    body = conn.getresponse().read()
    conn.close()
    return dict(json.loads(body))


def test_a_replica_on_slurm_answers_through_its_relay_as_its_project_and_is_cut_off_when_it_ends(
    slurm_executor: SlurmExecutor, make_launch, wait_run  # type: ignore[no-untyped-def]
) -> None:
    port = random.randint(20_000, 40_000)
    code = ("import sys\n"
            "from aicc.testbed import serve\n"
            f"sys.exit(serve.main(['--no-model', '--port', '{port}']))\n")
    launch = dataclasses.replace(make_launch([sys.executable, "-c", code], job_id=71), unix_uid=UID, memory_mb=512,
                                 network=False, extra={"service_port": str(port)})
    ext = slurm_executor.start(launch)
    sock = engine_socket(launch.workdir.parent, 71, 1)
    st = os.stat(sock.parent)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (UID, 0o700)  # the project's, outside the run's directory
    assert launch.workdir not in sock.parents
    deadline = time.monotonic() + 60
    why = probe(sock, "/health", port)
    while why is not None and time.monotonic() < deadline:
        time.sleep(0.3)
        why = probe(sock, "/health", port)
    assert why is None, (why, (launch.workdir / "stderr.log").read_text() if (launch.workdir / "stderr.log").exists()
                         else "", (sock.parent / "relay.log").read_text() if (sock.parent / "relay.log").exists()
                         else "")
    assert _get(sock, "/v1/version") == {"version": "1"}
    assert os.stat(sock).st_uid == UID  # the relay runs as the project, not root
    with socket.socket() as host, contextlib.suppress(ConnectionRefusedError):  # its own network namespace:
        host.connect(("127.0.0.1", port))  # the port is not on the host's loopback
        raise AssertionError(f"the replica's port {port} answers on the host's network")
    assert wait_run(slurm_executor, (71, 1, ext), lambda s: s.phase.value == "running", 30)
    slurm_executor.cancel(ext, 2)
    wait_run(slurm_executor, (71, 1, ext), lambda s: s.phase.finished, 60)
    assert not sock.exists()  # out of the gateway's reach: new connections fail at once, never hang
