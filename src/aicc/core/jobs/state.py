"""A job's states and the only moves between them.

    pending ──admit──▶ admitted ──start──▶ running ──▶ succeeded | failed | timed_out | cancelled
       ▲                  │                  │
       └──── requeue ─────┴──── preempt / lost ┘   (a new attempt, same place in the queue)

:func:`transition` states the legal moves. It is not (yet) the one way a state
changes: the controller and the job service write ``JobRow.state`` directly,
guarding each write by the state it expects (``WHERE state = 'pending'``, a
finished job is never read back as live), and the tests of the controller check
the moves end to end. Route a new writer through :func:`transition`, as hold, release, update and
requeue (``services.job_control``) do.
"""

from __future__ import annotations

import enum

from aicc.core.errors import Conflict


class JobState(enum.StrEnum):
    PENDING = "pending"
    ADMITTED = "admitted"  # placed by the scheduler, being started by the engine
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.TIMED_OUT})
LIVE = (JobState.ADMITTED.value, JobState.RUNNING.value)
"""Holding capacity on an engine: admitted (being started) or running. A tuple of values, for ``IN`` queries."""


class JobEvent(enum.StrEnum):
    ADMIT = "admit"
    START = "start"
    SUCCEED = "succeed"
    FAIL = "fail"
    TIME_OUT = "time_out"
    CANCEL = "cancel"
    REQUEUE = "requeue"  # preempted, lost with its node, or asked for (`aicc requeue`: a new attempt)
    HOLD = "hold"  # `aicc hold`: stays pending, never admitted until released
    RELEASE = "release"
    UPDATE = "update"  # `aicc update`: a pending job's limits, priority or flavors changed


_MOVES: dict[tuple[JobState, JobEvent], JobState] = {
    (JobState.PENDING, JobEvent.ADMIT): JobState.ADMITTED,
    (JobState.PENDING, JobEvent.CANCEL): JobState.CANCELLED,
    (JobState.PENDING, JobEvent.FAIL): JobState.FAILED,  # e.g. a dependency that can never be satisfied
    (JobState.ADMITTED, JobEvent.START): JobState.RUNNING,
    (JobState.ADMITTED, JobEvent.FAIL): JobState.FAILED,
    (JobState.ADMITTED, JobEvent.CANCEL): JobState.CANCELLED,
    (JobState.ADMITTED, JobEvent.REQUEUE): JobState.PENDING,
    (JobState.ADMITTED, JobEvent.SUCCEED): JobState.SUCCEEDED,  # finished before we saw it running
    (JobState.ADMITTED, JobEvent.TIME_OUT): JobState.TIMED_OUT,
    (JobState.RUNNING, JobEvent.SUCCEED): JobState.SUCCEEDED,
    (JobState.RUNNING, JobEvent.FAIL): JobState.FAILED,
    (JobState.RUNNING, JobEvent.TIME_OUT): JobState.TIMED_OUT,
    (JobState.RUNNING, JobEvent.CANCEL): JobState.CANCELLED,
    (JobState.RUNNING, JobEvent.REQUEUE): JobState.PENDING,
    # a user's own moves on a waiting job: it stays pending (held or not); only a pending job may change
    (JobState.PENDING, JobEvent.HOLD): JobState.PENDING,
    (JobState.PENDING, JobEvent.RELEASE): JobState.PENDING,
    (JobState.PENDING, JobEvent.UPDATE): JobState.PENDING,
    # `aicc requeue` of an ended job: it runs again as a new attempt
    (JobState.SUCCEEDED, JobEvent.REQUEUE): JobState.PENDING,
    (JobState.FAILED, JobEvent.REQUEUE): JobState.PENDING,
    (JobState.CANCELLED, JobEvent.REQUEUE): JobState.PENDING,
    (JobState.TIMED_OUT, JobEvent.REQUEUE): JobState.PENDING,
}


def transition(current: JobState, event: JobEvent) -> JobState:
    try:
        return _MOVES[(current, event)]
    except KeyError:
        raise Conflict(f"a {current.value} job cannot {event.value.replace('_', ' ')}") from None
