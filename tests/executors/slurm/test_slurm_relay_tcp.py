"""A service on Slurm with the relay in TCP mode (``AICC_SLURM_RELAY=tcp``, what a multi-host cluster needs):
served through the gateway (HTTP and websockets) over a port on the node that bridges only connections that
present the replica's secret; the address it publishes and the secret are out of reach of other tenants and of
the replica's own job."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.controller.serving_live import SERVER, Live, sqlite_center
from tests.executors.slurm.test_slurm_controller import SLURM_INVENTORY
from tests.runner.test_relay_tcp import _exchange

from aicc.runner import relay, relay_address
from aicc.store.models import JobRow, ProjectRow

OTHER_TENANT = 200_097
REPLICA = """
import asyncio, http, json, os, pathlib
from websockets.asyncio.server import serve

here = pathlib.Path.cwd()
seen = {"env": dict(os.environ)}
directory = here.parent / "relays" / f"{os.environ['AICC_JOB_ID']}-{os.environ['AICC_ATTEMPT']}"
for name in ("secret", "address"):
    try:
        seen[name] = (directory / name).read_text()
    except OSError as exc:
        seen[name] = type(exc).__name__
(here / "seen.json").write_text(json.dumps(seen))

async def echo(ws):
    async for message in ws:
        await ws.send("echo:" + message)

def plain(connection, request):
    if request.path == "/health":
        return connection.respond(http.HTTPStatus.OK, "ok\\n")

async def main():
    async with serve(echo, "127.0.0.1", 8000, process_request=plain):
        await asyncio.get_running_loop().create_future()

asyncio.run(main())
"""


@pytest.fixture
def tcp_live(shared_cluster, tmp_path: Path, sqlite_template: Path,  # type: ignore[no-untyped-def]
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    """The live center on the real Slurm cluster, its relays in TCP mode on the loopback (the cluster is this
    one host); one database backend: this is about processes and bytes, not SQL."""
    monkeypatch.setenv("AICC_SLURM_RELAY", "tcp")
    monkeypatch.setenv("AICC_SLURM_RELAY_BIND", "127.0.0.1")
    with sqlite_center(tmp_path, sqlite_template, inventory=SLURM_INVENTORY, slurm_dir=shared_cluster.directory,
                       job_prefix=f"t{uuid.uuid4().hex[:8]}") as center:
        yield center


def _raw(addr: relay_address.TcpAddress, first: bytes) -> bytes:
    return _exchange(addr, first, timeout=10, path=b"/health")


def test_a_replica_in_tcp_mode_serves_through_the_gateway_only_with_its_secret_which_its_job_never_sees(
        tcp_live: Live) -> None:
    from websockets.sync.client import connect

    live = tcp_live
    w = live.world
    svc = live.create(w.a.member_token, name="tcp", replicas=1, command=[SERVER[0], "-c", REPLICA])
    key = live.key(w.a.member_token, svc["id"])
    [job_id] = live.ready(svc["id"], 1, timeout=120)
    r = live.gateway("/svc/proj-a/tcp/health", key)
    assert r.status_code == 200 and r.text == "ok\n", r.text
    url = live.url.replace("http://", "ws://") + "/svc/proj-a/tcp/chat"
    with connect(url, additional_headers={"Authorization": f"Bearer {key}"}) as ws:
        ws.send("hello")
        assert ws.recv(timeout=10) == "echo:hello"

    with live.db.read() as s:
        job = s.get(JobRow, job_id)
        assert job is not None
        attempt, project_id = job.attempt, job.project_id
        uid = s.get(ProjectRow, project_id).unix_uid  # type: ignore[union-attr]
    directory = relay.engine_socket(live.settings.jobs_dir, job_id, attempt).parent
    [(_, target)] = live.app.state.gateway.routes[("proj-a", "tcp")].sockets
    assert isinstance(target, relay_address.TcpAddress)  # reached over TCP, not the socket
    assert target.host == "127.0.0.1"
    assert not (directory / relay.SOCKET_NAME).exists()
    published = os.stat(directory / relay_address.ADDRESS_NAME)
    assert (published.st_uid, stat.S_IMODE(published.st_mode)) == (uid, 0o600)  # written by the relay
    kept = os.stat(directory / relay_address.SECRET_NAME)
    assert (kept.st_uid, kept.st_gid, stat.S_IMODE(kept.st_mode)) == (0, uid, 0o640)  # the server's; runner reads
    assert json.loads((directory / relay_address.ADDRESS_NAME).read_text())["port"] == target.port
    # another tenant: the project's 0700 directory stops it
    for name in (relay_address.ADDRESS_NAME, relay_address.SECRET_NAME):
        other = subprocess.run(["cat", str(directory / name)], user=OTHER_TENANT, group=OTHER_TENANT,
                               capture_output=True, text=True, timeout=10)
        assert other.returncode != 0 and "Permission denied" in other.stderr, other

    t0 = time.monotonic()
    assert _raw(target, b"") == b""  # no secret: closed after the deadline, nothing of the replica's
    assert _raw(target, relay_address.preamble(relay_address.new_secret())) == b""  # a wrong one: closed at once
    assert time.monotonic() - t0 < relay_address.PREAMBLE_DEADLINE_S + 3  # never a hang
    assert _raw(target, target.preamble).startswith(b"HTTP/1.1 200")
    assert live.gateway("/svc/proj-a/tcp/health", key).status_code == 200  # the replica goes on serving

    workdir = live.settings.jobs_dir / str(job_id)
    seen = json.loads((workdir / "seen.json").read_text())  # what the job itself could read
    assert seen["secret"] in ("FileNotFoundError", "PermissionError")
    assert seen["address"] in ("FileNotFoundError", "PermissionError")
    assert target.secret not in json.dumps(seen["env"])
    for path in [p for p in workdir.rglob("*") if p.is_file()]:  # its whole writable view: spec, script, logs
        assert target.secret.encode() not in path.read_bytes(), path
    assert any(Path(workdir).glob("slurm-run-*.json"))  # the spec is there (the job sees it): no secret in it

    stopped = live.api("POST", f"/services/{svc['id']}/stop", w.a.member_token)
    assert stopped.status_code == 200, stopped.text
    live.until(lambda: not directory.exists(), 90, "the ended replica's relay directory (its secret) removed")


def test_the_relay_mode_is_the_sites_setting_unix_unless_it_says_tcp_and_nothing_else(tmp_path: Path) -> None:
    from aicc.executors.slurm import SlurmConfig

    (tmp_path / "cluster.json").write_text(json.dumps({"flavors": {}, "jobcomp_log": "/x", "slurm_conf": "/y"}))
    assert SlurmConfig.from_cluster_dir(tmp_path, {}).relay == "unix"
    tcp = SlurmConfig.from_cluster_dir(tmp_path, {"AICC_SLURM_RELAY": " TCP ", "AICC_SLURM_RELAY_BIND": "10.0.0.7"})
    assert (tcp.relay, tcp.relay_bind) == ("tcp", "10.0.0.7")
    with pytest.raises(ValueError, match="AICC_SLURM_RELAY is 'udp'"):
        SlurmConfig.from_cluster_dir(tmp_path, {"AICC_SLURM_RELAY": "udp"})


def test_a_session_on_a_slurm_node_is_reached_through_its_tcp_relay_by_its_owner_alone(tcp_live: Live) -> None:
    """JupyterLab on the node makes its socket in its run directory, as on one host; the runner's relay
    bridges that socket to a port guarded by the session's secret, and the proxy and the readiness watcher go
    there: HTTP, the kernel's websocket, a cell run."""
    import httpx
    from tests.proxy.test_hostile_session import _execute

    from aicc.services.sessions import address

    live, w = tcp_live, tcp_live.world
    started = live.api("POST", "/sessions", w.a.member_token, json={"project_id": w.a.project_id,
                                                                    "kind": "jupyter", "memory_mb": 1024})
    assert started.status_code == 201, started.text
    sid = started.json()["id"]
    live.until(lambda: live.api("GET", f"/sessions/{sid}", w.a.member_token).json()["phase"] == "ready", 120,
               "the session ready (the watcher reached it through its relay)")
    with live.db.read() as s:
        job = s.get(JobRow, sid)
        assert job is not None and job.external_id and job.external_id.split("_")[0].isdigit()  # a Slurm job
        attempt = job.attempt
    target = address(live.settings, sid, attempt)
    assert isinstance(target, relay_address.TcpAddress)  # over TCP, not the socket in its run directory
    mine = {"aicc_session": w.a.member_token}
    status = httpx.get(f"{live.url}/s/{sid}/api/status", cookies=mine, timeout=30)
    assert status.status_code == 200 and "last_activity" in status.json(), status.text
    assert _execute(live.url, sid, w.a.member_token, "print(sum(range(10)))").strip() == "45"
    stranger = httpx.get(f"{live.url}/s/{sid}/api/status", cookies={"aicc_session": w.b.member_token}, timeout=30)
    assert stranger.status_code == 404
    assert _raw(target, relay_address.preamble(relay_address.new_secret())) == b""  # the port, without the secret

    directory = relay.engine_socket(live.settings.jobs_dir, sid, attempt).parent
    assert live.api("DELETE", f"/sessions/{sid}", w.a.member_token).status_code == 204
    live.until(lambda: not directory.exists(), 90, "the ended session's relay directory (its secret) removed")
