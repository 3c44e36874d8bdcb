"""What a service's replicas should do next: start, drain, stop. One pure function, called every tick.

A replica never disappears while it serves: it is first *drained* (out of the gateway's rotation, requests in
flight finish), and only stopped ``drain_s`` later. That is how a rolling update drops no request: a new
replica is started beside the old ones (one extra at most), and only once it is ready is one old one drained.
Restarts wait out a backoff that doubles with each start in a row that never became ready.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from aicc.core.serving.model import ReplicaState

BACKOFF_FIRST_S = 2.0
BACKOFF_MAX_S = 60.0


def backoff_s(failed_starts: int) -> float:
    """2, 4, 8 … seconds, at most a minute, after the n-th start in a row that never became ready."""
    if failed_starts <= 0:
        return 0.0
    return float(min(BACKOFF_FIRST_S * 2.0 ** (failed_starts - 1), BACKOFF_MAX_S))


@dataclass(frozen=True, slots=True)
class Replica:
    job_id: int
    revision: int
    state: ReplicaState
    since: dt.datetime
    """When it entered ``state`` (draining: when the drain began)."""


@dataclass(frozen=True, slots=True)
class ServiceView:
    revision: int
    replicas: int
    next_start_at: dt.datetime | None = None


@dataclass
class Plan:
    start: int = 0
    """New replicas of the current revision to submit."""
    drain: list[int] = field(default_factory=list)
    stop: list[int] = field(default_factory=list)
    rollout_done: bool = False
    """Every replica runs the current revision, and each is ready."""


def _drain_order(r: Replica) -> tuple[int, float]:
    """Not-ready replicas first, then the newest (the oldest have proved themselves)."""
    return (0 if r.state is not ReplicaState.READY else 1, -r.since.timestamp())


def plan(service: ServiceView, replicas: list[Replica], now: dt.datetime, *, drain_s: float) -> Plan:
    """``replicas``: the service's live runs (pending, admitted or running), none being cancelled already."""
    out = Plan()
    draining = [r for r in replicas if r.state is ReplicaState.DRAINING]
    out.stop = [r.job_id for r in draining if (now - r.since).total_seconds() >= drain_s]
    serving = [r for r in replicas if r.state is not ReplicaState.DRAINING]
    current = [r for r in serving if r.revision == service.revision]
    old = [r for r in serving if r.revision != service.revision]
    wanted = service.replicas
    may_start = service.next_start_at is None or now >= service.next_start_at
    if len(current) > wanted:
        out.drain += [r.job_id for r in sorted(current, key=_drain_order)[:len(current) - wanted]]
        current = [r for r in current if r.job_id not in out.drain]
    ready = [r for r in current if r.state is ReplicaState.READY]
    if not old:
        if len(current) < wanted and may_start:
            out.start = wanted - len(current)
        out.rollout_done = not draining and len(ready) == wanted and len(current) == wanted
        return out
    # rolling: one new replica at a time beside the old ones; an old one leaves only when a new one is ready
    if len(current) < wanted and len(current) == len(ready) and may_start:
        out.start = 1
    keep = max(0, wanted - len(ready))
    if len(old) > keep:
        out.drain += [r.job_id for r in sorted(old, key=_drain_order)[:len(old) - keep]]
    return out
