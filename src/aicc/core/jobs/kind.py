"""The three kinds of run: one workload model, three lifecycles (DESIGN.md, "Workloads").

A job, an interactive session and a service replica are admitted by the same policy and charged the same SU;
they differ only in how they end and what the center promises about them. Each promise lives here once, so the
policy, the controller and the simulator cannot disagree about it.
"""

from __future__ import annotations

from enum import StrEnum


class RunKind(StrEnum):
    JOB = "job"
    """Runs to an exit; may borrow idle capacity and be preempted there, requeued with its place kept."""
    SESSION = "session"
    """Used by a person through the proxy; ends at its time limit, when idle, or on request."""
    SERVICE = "service"
    """A replica held until scaled down or deleted; restarted with backoff when it fails."""

    @property
    def may_borrow(self) -> bool:
        """A service holds its accelerators for as long as it lives, so it runs only within the project's
        nominal quota: borrowed capacity is reclaimed by preemption, which a service must never meet."""
        return self is not RunKind.SERVICE
