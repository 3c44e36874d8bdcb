"""A service replica on Slurm: a long-running step as the project's uid, in its own network namespace, reached
through the relay the runner forks (a socket outside the run's view); gone from reach when the step ends."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import signal
import socket
import stat
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.controller.serving_live import SERVER, Live, live_center
from tests.executors.slurm.test_slurm_controller import SLURM_INVENTORY

from aicc.executors.slurm import SlurmExecutor
from aicc.runner.relay import engine_socket
from aicc.services.serving.replicas import probe
from aicc.store.db import Database
from aicc.store.models import JobRow, ProjectRow

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


@pytest.fixture
def slurm_live(shared_cluster, db: Database) -> Iterator[Live]:  # type: ignore[no-untyped-def]
    """The live center (controller, supervisor, gateway under uvicorn) on the real Slurm cluster."""
    with live_center(db, inventory=SLURM_INVENTORY, slurm_dir=shared_cluster.directory,
                     job_prefix=f"t{uuid.uuid4().hex[:8]}") as center:
        yield center


def _is_server(proc: Path, uid: int | None, slurm_job: str) -> bool:
    """The model server of this Slurm job (its cgroup names the job): a test on the other worker runs the same
    server as the same project uid on the local engine, and must not lose its replicas to this one's kill."""
    try:
        return proc.stat().st_uid == uid and b"aicc.testbed.serve" in (proc / "cmdline").read_bytes() and \
            f"/job_{slurm_job}/" in (proc / "cgroup").read_text()
    except OSError:
        return False


def test_a_service_on_slurm_is_served_through_the_gateway_and_a_replica_that_exits_is_restarted(
        slurm_live: Live) -> None:
    live = slurm_live
    w = live.world
    svc = live.create(w.a.member_token, name="echo", replicas=1, command=[*SERVER, "--no-model"])
    key = live.key(w.a.member_token, svc["id"])
    first = live.ready(svc["id"], 1, timeout=120)
    r = live.gateway("/svc/proj-a/echo/v1/version", key)
    assert r.status_code == 200 and r.json() == {"version": "1"}, r.text
    with live.db.read() as s:
        external = s.get(JobRow, first[0]).external_id  # type: ignore[union-attr]
    assert external and external.split("_")[0].isdigit()  # a Slurm job, not a local process
    assert engine_socket(live.settings.jobs_dir, first[0], 0).exists()  # reached through the step's relay
    with live.db.read() as s:
        uid = s.get(ProjectRow, w.a.project_id).unix_uid  # type: ignore[union-attr]
    victims = [int(p.name) for p in Path("/proc").iterdir()
               if p.name.isdigit() and _is_server(p, uid, external.split("_")[0])]
    assert victims, "the replica's server is not running as its project's uid"
    for pid in victims:  # the server crashes (as an OOM kill would): the step ends, Slurm records a failure
        os.kill(pid, signal.SIGKILL)
    out = ("replica_exited", "replica_unhealthy")  # whichever the supervisor sees first: the exit or its checks
    live.until(lambda: any(e["kind"] in out for e in live.events(svc["id"])), 60, "the crash seen")
    replaced = live.ready(svc["id"], 1, timeout=120)
    assert replaced != first
    live.until(lambda: live.gateway("/svc/proj-a/echo/v1/version", key).status_code == 200, 10, "served again")
