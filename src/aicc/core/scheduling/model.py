"""The scheduler's view of the center: plain data, no I/O.

The live controller fills these from the database, the simulator from a trace;
both then call the same :class:`~aicc.core.scheduling.scheduler.Scheduler`.
Times are Unix seconds (floats); "units" are accelerators, or CPU cores on a CPU
flavor, which is also how quotas and service units count them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from aicc.core.jobs.reasons import Reason


@dataclass(frozen=True, slots=True)
class FlavorInfo:
    name: str
    su_rate: float
    cpu: bool = False
    """A CPU flavor: units are cores and jobs ask for no accelerators."""


@dataclass(slots=True)
class ProjectState:
    """A project with the allocation the scheduler charges it to."""

    id: int
    weight: float = 1.0
    nominal: Mapping[str, int] = field(default_factory=dict)
    """Guaranteed concurrent units per flavor."""
    borrowing_limit: Mapping[str, int] = field(default_factory=dict)
    """Extra units per flavor it may take from idle capacity (preemptible)."""
    budget_left: float = float("inf")
    """SU left in the allocation, less what running jobs may still spend up to their time limits."""
    window_start: float = float("-inf")
    window_end: float = float("inf")
    active: bool = True
    """False when suspended (or no allocation at all)."""
    allocation_id: int | None = None


@dataclass(frozen=True, slots=True)
class PendingJob:
    id: int
    project: int
    flavors: tuple[str, ...]
    """Acceptable flavors, in the user's order of preference."""
    accelerators: int
    cpus: int
    memory_mb: int
    time_limit_s: float
    priority: int = 0
    submit_time: float = 0.0
    workload_class: str | None = None
    may_borrow: bool = True
    """False for a service (:attr:`aicc.core.jobs.kind.RunKind.may_borrow`): admitted within nominal quota only."""
    checkpoint_s: float | None = None
    """Seconds of run time between its checkpoints (None: none; a preempted run loses all its work)."""


@dataclass(frozen=True, slots=True)
class Placement:
    node: str
    devices: tuple[int, ...]
    cpus: int
    memory_mb: int


@dataclass(frozen=True, slots=True)
class RunningJob:
    id: int
    project: int
    flavor: str
    placements: tuple[Placement, ...]
    start_time: float
    time_limit_s: float
    priority: int = 0
    borrowed: bool = False
    units: int = 0
    """Units held on ``flavor`` (accelerators, or cores on a CPU flavor)."""
    checkpoint_s: float | None = None
    """Seconds of run time between its checkpoints (None: none): what a preemption would make it lose."""

    @property
    def end_by(self) -> float:
        return self.start_time + self.time_limit_s


@dataclass(frozen=True, slots=True)
class NodeInfo:
    name: str
    flavor: str
    accelerators: int
    cpus: int
    memory_mb: int
    available: bool = True
    switch: str | None = None
    """Topology: a gang wider than a node prefers nodes under one switch."""


class Order(StrEnum):
    """The order in which waiting jobs are examined."""

    FIFO = "fifo"
    """By submit time, one queue for the whole center."""
    FAIRSHARE = "fairshare"
    """Projects by weighted dominant share, then priority, then submit time."""


class FlavorChoice(StrEnum):
    """Which of a job's acceptable flavors is tried first."""

    CHEAPEST = "cheapest"
    """Lowest SU rate first."""
    THROUGHPUT = "throughput"
    """Best measured throughput per SU for the job's workload class."""


class Pass(StrEnum):
    """One walk over the queue within a cycle, with the quota headroom it admits against."""

    GUARANTEED = "guaranteed"
    """Within nominal quota (may preempt borrowed capacity)."""
    BORROW = "borrow"
    """Up to nominal quota plus borrowing limit (what it takes beyond nominal is preemptible)."""
    ANY = "any"
    """Quotas off: one shared pool."""


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """What a scheduling policy does; the presets in :data:`POLICIES` are the ones compared in simulation."""

    order: Order = Order.FAIRSHARE
    backfill: bool = True
    """EASY backfill: later jobs may start if they do not delay the reservation of the first blocked one."""
    quotas: bool = True
    """Enforce nominal quota and borrowing limit; off means one shared pool."""
    preemption: bool = True
    """A job within its nominal quota may preempt borrowed capacity."""
    placement: FlavorChoice = FlavorChoice.CHEAPEST
    preempt_after_s: float = 0.0
    """A borrowed job is safe from preemption for this long after it started (as Slurm's PreemptExemptTime):
    it makes progress before it can be sent back, and capacity does not ping-pong between projects."""
    preempt_grace_s: float = 10.0
    """A victim keeps its units this long after it is told to stop (the controller's ``AICC_PREEMPT_GRACE``):
    part of what a preemption costs."""
    preempt_worth: float = 0.5
    """Cost-aware preemption: victims are taken only when what they lose (accelerator-time since their last
    checkpoint, all of the run without one, plus the grace period) is at most this many times what the waiting
    job gains (its units x the time until its shape frees by itself, from time limits), the factor growing with
    its wait (x (1 + wait / ``age_after_s``)); otherwise it waits, and holds the reservation when it is first
    (the holders drain). 0: off, preempt whenever it helps (:mod:`~aicc.core.scheduling.preemption`)."""
    age_after_s: float = 259_200.0
    """Aging, separate from fair share: every waiting job that has waited this long is examined before the
    fair-share order, oldest first, and the first such job that cannot start holds the reservation
    (EASY's promise, node by node) until it starts. Bounds its wait: this plus the longest time limit of the
    jobs running on its flavor, per older aged job ahead of it (see :mod:`aicc.core.scheduling.aging`). 0: off.
    Fair-share order only (FIFO already reserves for the oldest)."""
    max_examined: int = 0
    """Stop after examining this many jobs in one cycle (0: no limit), as Slurm's bf_max_job_test."""
    max_starts: int = 0
    """Admit at most this many jobs in one cycle (0: no limit), as Slurm's sched_max_job_start: a center
    that comes up to a long queue drains it in short cycles, still answering submits and cancels between
    them, instead of one long one. The controller runs the next cycle at once when this cut one short."""


POLICIES: dict[str, PolicyConfig] = {
    "fifo": PolicyConfig(order=Order.FIFO, backfill=False, quotas=False, preemption=False),
    "easy": PolicyConfig(order=Order.FIFO, backfill=True, quotas=False, preemption=False),
    "aicc": PolicyConfig(preempt_after_s=600.0),
    "hetero": PolicyConfig(placement=FlavorChoice.THROUGHPUT, preempt_after_s=600.0),
}


@dataclass(frozen=True, slots=True)
class Admission:
    job_id: int
    flavor: str
    placements: tuple[Placement, ...]
    borrowed: bool
    allocation_id: int | None


@dataclass(frozen=True, slots=True)
class Reservation:
    job_id: int
    flavor: str
    start: float
    """When a node set of the job's shape is expected to be free (from running jobs' time limits)."""
    spare: Mapping[str, int] = field(default_factory=dict)
    """The nodes it will take, each with the units a job still running at ``start`` may take there now
    without delaying it (EASY's promise, node by node: other nodes are not the reservation's)."""


@dataclass(slots=True)
class CycleResult:
    admissions: list[Admission] = field(default_factory=list)
    preemptions: list[int] = field(default_factory=list)
    reservation: Reservation | None = None
    reasons: dict[int, Reason] = field(default_factory=dict)
    """Why each examined pending job still waits."""
    examined: int = 0
    blocked_projects: dict[int, Reason] = field(default_factory=dict)
    """Projects skipped whole (no quota room): the reason for all their pending jobs."""
    idle_reason: Reason | None = None
    """For pending jobs not examined this cycle (the center is full)."""
    spread: list[int] = field(default_factory=list)
    """Gangs admitted across switches because no switch could hold one alone (topology-labelled nodes)."""
    capped: bool = False
    """The cycle stopped at ``max_starts`` admissions: more may fit, run another at once."""
