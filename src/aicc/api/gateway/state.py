"""What the gateway knows between requests: the routing table, the keys it has checked, the rate buckets.

All of it is a cache of the database, refreshed in a worker thread so no request waits on a query: the table
every ``REFRESH_S`` (the supervisor's view of which replicas are ready, at most that old) in the background
while requests use the table as it is; a key's check after ``KEY_CACHE_S`` in the background too, the key still
honoured meanwhile, but never past ``KEY_MAX_AGE_S`` (then the request waits for the check): so a revoked key is
refused within about ``KEY_MAX_AGE_S`` on every server, and a busy key never waits for the database. Nothing
is written per request: metrics are counters in memory, read by ``/metrics``.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import select

from aicc.api.gateway import upstream
from aicc.config import Settings
from aicc.core.serving import ReplicaState, ServiceState
from aicc.services.serving import keys as key_svc
from aicc.services.serving import replicas
from aicc.services.serving.traffic import Traffic
from aicc.store.db import Database
from aicc.store.models import JobRow, ProjectRow, ServiceRow

REFRESH_S = 0.25
MISS_REFRESH_S = 0.05
KEY_CACHE_S = 0.4
"""A key checked this recently is used as it is."""
KEY_MAX_AGE_S = 0.8
"""A key checked longer ago than this is checked again before the request goes on (a revocation's bound)."""


@dataclass
class Route:
    service_id: int
    organization_id: int
    state: str
    reason: str
    sockets: list[tuple[int, replicas.Target]] = field(default_factory=list)
    """(replica job id, its relay: a socket's path or a TCP address) of the replicas in rotation."""


@dataclass
class Bucket:
    """A token bucket: ``rate`` tokens a second up to ``burst``; a request takes one."""

    rate: float
    burst: int
    tokens: float
    at: float

    def take(self, now: float) -> float:
        """0 when allowed; else the seconds until a token is there."""
        self.tokens = min(float(self.burst), self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass
class ServiceMetrics:
    """One service's children of the gateway's metrics, looked up once (``labels()`` costs on every call)."""

    family: GatewayMetrics
    label: str
    in_flight: Any
    latency: Any
    errors: Any
    by_status: dict[int, Any] = field(default_factory=dict)

    def count(self, status: int) -> None:
        child = self.by_status.get(status)
        if child is None:
            child = self.by_status[status] = self.family.requests.labels(self.label, str(status))
        child.inc()


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._of: dict[str, ServiceMetrics] = {}
        self.requests = Counter("aicc_service_requests_total", "Requests through the gateway",
                                ["service", "status"], registry=registry)
        self.latency = Histogram("aicc_service_request_seconds",
                                 "Gateway latency to the response's headers", ["service"], registry=registry,
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))
        self.errors = Counter("aicc_service_errors_total", "Requests that got no answer from a replica (502/503)",
                              ["service"], registry=registry)
        self.in_flight = Gauge("aicc_service_in_flight", "Requests in flight", ["service"], registry=registry)

    def of(self, label: str) -> ServiceMetrics:
        held = self._of.get(label)
        if held is None:
            held = self._of[label] = ServiceMetrics(self, label, self.in_flight.labels(label),
                                                    self.latency.labels(label), self.errors.labels(label))
        return held


class Gateway:
    def __init__(self, settings: Settings, db: Database, traffic: Traffic, registry: CollectorRegistry,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings, self.db, self.traffic, self.clock = settings, db, traffic, clock
        self.metrics = GatewayMetrics(registry)
        self.routes: dict[tuple[str, str], Route] = {}
        self._refreshed = -1e9
        self._refreshing: asyncio.Lock | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.pool = upstream.Pool()
        self._keys: dict[str, tuple[float, key_svc.KeyGrant | None]] = {}
        self._checking: set[str] = set()
        self._buckets: dict[int, Bucket] = {}
        self._per_replica: dict[int, int] = {}
        self._turn = itertools.count()

    # -- the routing table ----------------------------------------------------------------------
    def _load(self) -> dict[tuple[str, str], Route]:
        table: dict[tuple[str, str], Route] = {}
        with self.db.read() as s:
            rows = s.execute(select(ServiceRow, ProjectRow.name, ProjectRow.organization_id).join(
                ProjectRow, ProjectRow.id == ServiceRow.project_id).where(
                ServiceRow.state != ServiceState.DELETED.value)).all()
            by_id: dict[int, Route] = {}
            for svc, project, org in rows:
                route = Route(svc.id, org, svc.state, svc.reason)
                table[(project, svc.name)] = route
                by_id[svc.id] = route
            for job_id, attempt, service_id in s.execute(select(JobRow.id, JobRow.attempt, JobRow.service_id).where(
                    JobRow.service_id.in_(list(by_id)), JobRow.replica_state == ReplicaState.READY.value,
                    JobRow.state == "running").order_by(JobRow.id)).all():
                by_id[service_id or 0].sockets.append((job_id, replicas.address(self.settings, job_id, attempt)))
        return table

    async def refresh(self, force: bool = False) -> None:
        """The routing table, at most ``REFRESH_S`` old: reloaded in the background while a table exists
        (requests go on with the one they have); awaited only when there is none yet, or when ``force``."""
        if not force and self.clock() - self._refreshed < REFRESH_S:
            return
        if self.routes and not force:
            if self._refreshing is None or not self._refreshing.locked():
                self._spawn(self._reload(REFRESH_S))
            return
        await self._reload(MISS_REFRESH_S if force else REFRESH_S)

    async def refresh_on_miss(self) -> None:
        """A request found no route or no ready replica in a table older than ``MISS_REFRESH_S``: it waits for a
        fresh one (a service created or a replica ready a moment ago), at most one query per that time."""
        if self.clock() - self._refreshed >= MISS_REFRESH_S:
            await self.refresh(force=True)

    async def _reload(self, min_age: float) -> None:
        if self._refreshing is None:
            self._refreshing = asyncio.Lock()
        async with self._refreshing:
            if self.clock() - self._refreshed < min_age:
                return  # another request reloaded it while this one waited
            self.routes = await asyncio.to_thread(self._load)
            self._refreshed = self.clock()
        live = {str(sock) for route in self.routes.values() for _, sock in route.sockets}
        for path in [p for p in self.pool.idle if p not in live]:
            self.pool.forget(path)

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def pick(self, route: Route, avoid: set[int]) -> tuple[int, replicas.Target] | None:
        """The replica in rotation with the fewest of our requests in flight (round robin among equals)."""
        choices = [c for c in route.sockets if c[0] not in avoid]
        if not choices:
            return None
        start = next(self._turn) % len(choices)
        ordered = choices[start:] + choices[:start]
        return min(ordered, key=lambda c: self._per_replica.get(c[0], 0))

    def begin(self, service_id: int, job_id: int) -> None:
        self._per_replica[job_id] = self._per_replica.get(job_id, 0) + 1
        self.traffic.begin(service_id)

    def end(self, service_id: int, job_id: int) -> None:
        self._per_replica[job_id] = self._per_replica.get(job_id, 1) - 1
        if self._per_replica[job_id] <= 0:
            self._per_replica.pop(job_id, None)
        self.traffic.end(service_id)

    def drop(self, route: Route, job_id: int) -> None:
        """A replica whose socket refused us leaves this server's rotation until the next refresh says more."""
        for _, sock in [c for c in route.sockets if c[0] == job_id]:
            self.pool.forget(str(sock))
        route.sockets = [c for c in route.sockets if c[0] != job_id]

    # -- keys and limits ------------------------------------------------------------------------
    async def grant(self, presented: str) -> key_svc.KeyGrant | None:
        digest = hashlib.sha256(presented.encode()).hexdigest()
        held = self._keys.get(digest)
        now = self.clock()
        if held is not None:
            age = now - held[0]
            if age < KEY_CACHE_S:
                return held[1]
            if age < KEY_MAX_AGE_S:
                if digest not in self._checking:
                    self._spawn(self._recheck(digest, presented))
                return held[1]
        return await self._recheck(digest, presented)

    async def _recheck(self, digest: str, presented: str) -> key_svc.KeyGrant | None:
        self._checking.add(digest)
        try:
            at = self.clock()
            grant = await asyncio.to_thread(self._check, presented)
        finally:
            self._checking.discard(digest)
        if len(self._keys) > 10_000:
            self._keys.clear()
        self._keys[digest] = (at, grant)
        return grant

    def forget_key(self, key_id: int) -> None:
        """A key revoked through this server is refused by it at once (the others within ``KEY_MAX_AGE_S``)."""
        for digest in [d for d, (_, g) in self._keys.items() if g is not None and g.key_id == key_id]:
            self._keys.pop(digest, None)

    def _check(self, presented: str) -> key_svc.KeyGrant | None:
        with self.db.read() as s:
            return key_svc.check(s, presented)

    def limit(self, grant: key_svc.KeyGrant) -> float:
        """0 when the key may send this request now; else the seconds to wait."""
        now = self.clock()
        bucket = self._buckets.get(grant.key_id)
        if bucket is None or bucket.rate != grant.rate_per_s or bucket.burst != grant.burst:
            bucket = self._buckets[grant.key_id] = Bucket(grant.rate_per_s, grant.burst, float(grant.burst), now)
        return bucket.take(now)
