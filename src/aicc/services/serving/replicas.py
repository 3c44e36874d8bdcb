"""A service's replicas as runs: submitting one (a ``jobs`` row of kind ``service``), where its relay is (a
Unix socket, or a TCP address with its secret: ``aicc.runner.relay``), checking its health through it, and the
last lines of its log for a failure's reason."""

from __future__ import annotations

import http.client
import socket
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session

from aicc.config import Settings
from aicc.core.jobs import RunKind
from aicc.core.serving import ReplicaState
from aicc.executors.base import log_file
from aicc.runner.relay import SOCKET_NAME, engine_socket
from aicc.runner.relay_address import TcpAddress, published
from aicc.services import jobs as job_svc
from aicc.services.principal import SYSTEM
from aicc.services.serving.catalog import REPLICA_LEASE_S
from aicc.store import changes
from aicc.store.models import ServiceRevisionRow, ServiceRow, utcnow

TAIL_BYTES = 2048
TAIL_LINES = 8


def submit(s: Session, settings: Settings, service: ServiceRow, rev: ServiceRevisionRow) -> int:
    """One replica of ``rev``, checked as any run (flavor, image, allocation) and admitted by the one policy;
    raises InvalidInput when it never could run (the allocation ended): the supervisor stops the service."""
    env = {**rev.env}
    prepared = job_svc.check(SYSTEM, settings, job_svc.JobSpec(
        project_id=service.project_id, command=list(rev.command) or ["true"], flavors=rev.flavors,
        accelerators=rev.accelerators, cpus=rev.cpus, memory_mb=rev.memory_mb,
        time_limit_s=min(REPLICA_LEASE_S, settings.max_time_limit_s), env=env, image=rev.image_ref,
        name=f"{service.name}-r{rev.number}"), job_svc.load_reference(s))
    row = job_svc._row(SYSTEM, prepared, utcnow())  # the one way a run row is built
    row.update(user_id=service.user_id, kind=RunKind.SERVICE.value, service_id=service.id,
               service_revision=rev.number, replica_state=ReplicaState.STARTING.value,
               command=list(rev.command), env={**env, "AICC_SERVICE_PORT": str(rev.port),
                                               "AICC_SERVICE": service.name},
               change_seq=changes.stamp(s, changes.JOBS))
    return int(s.execute(insert(job_svc.JOBS).returning(job_svc.JOBS.c.id), [row]).scalar_one())


def socket_path(settings: Settings, job_id: int, attempt: int) -> Path:
    """The relay's socket of a replica (``aicc.runner.relay``): in its run directory on the local engine; on
    Slurm in the directory the executor made for it outside the run's view (``relay.engine_socket``)."""
    engine = engine_socket(settings.jobs_dir, job_id, attempt)
    if engine.parent.is_dir():
        return engine
    return settings.jobs_dir / str(job_id) / f"run-{attempt}" / SOCKET_NAME


Target = Path | TcpAddress
"""Where a replica is reached: its relay's Unix socket, or its relay's TCP address (with the secret)."""


def address(settings: Settings, job_id: int, attempt: int) -> Target:
    """The replica's relay: the TCP address it published (Slurm in TCP mode), else its socket's path."""
    sock = socket_path(settings, job_id, attempt)
    if sock == engine_socket(settings.jobs_dir, job_id, attempt):  # a Slurm relay's (the local engine's is Unix)
        return published(sock.parent) or sock
    return sock


class _RelayHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__("replica", timeout=timeout)
        self._target = target

    def connect(self) -> None:
        target = self._target
        if isinstance(target, TcpAddress):
            self.sock = socket.create_connection((target.host, target.port), timeout=self.timeout)
            self.sock.sendall(target.preamble)
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(target))
        except OSError:
            sock.close()
            raise
        self.sock = sock


def probe(target: Target, health_path: str, port: int, timeout_s: float = 1.0) -> str | None:
    """None when ``GET health_path`` answers 2xx or 3xx through the replica's relay; else why not, in words
    that name the port and the path."""
    if isinstance(target, Path) and not target.exists():
        return f"the replica's socket is not there (its relay to port {port} is not up)"
    conn = _RelayHTTPConnection(target, timeout_s)
    try:
        conn.request("GET", health_path, headers={"Host": "replica", "User-Agent": "aicc-health"})
        resp = conn.getresponse()
        body = resp.read(512)
    except TimeoutError:
        return f"GET {health_path} on port {port} did not answer within {timeout_s:g} s"
    except (OSError, http.client.HTTPException) as exc:
        return f"GET {health_path} on port {port} failed: {exc or type(exc).__name__}"
    finally:
        conn.close()
    if 200 <= resp.status < 400:
        return None
    if resp.getheader("X-AICC-Relay") == "refused":
        return f"nothing answers on port {port} inside the replica"
    return f"GET {health_path} on port {port} answered {resp.status}: {body[:200].decode(errors='replace')}"


def last_lines(settings: Settings, job_id: int) -> str:
    """The last lines of a replica's output (stderr first): why it would not come up, in its own words."""
    out = []
    for name in (log_file("stderr"), log_file("stdout")):
        try:
            with open(settings.jobs_dir / str(job_id) / name, "rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - TAIL_BYTES))
                lines = f.read().decode(errors="replace").splitlines()
        except OSError:
            continue
        lines = [ln for ln in lines if ln.strip() and not ln.startswith("== attempt")][-TAIL_LINES:]
        if lines:
            out.append(f"{name}: " + " | ".join(lines))
    return "; ".join(out) or "no output"
