"""The admission policy: pure, shared by the live controller and the simulator.

Modules: ``model`` (the data the policy reads and returns), ``capacity`` (free
units per flavor and node placement), ``demand`` (what the waiting jobs ask for,
read by the early stops), ``fairshare`` (weighted DRF), ``reasons`` (what a
waiting user reads, as codes with parameters). The :class:`Scheduler` is built in
layers by concept, as Kueue's is: ``state`` (cluster state), ``quota`` (headroom
per pass), ``queues`` (order), ``reservation`` (backfill, early stops),
``preemption``, ``cycle`` (the walk), ``scheduler`` (the deltas, its public API).
"""

from aicc.core.scheduling.model import (
    POLICIES,
    Admission,
    CycleResult,
    FlavorChoice,
    FlavorInfo,
    NodeInfo,
    Order,
    Pass,
    PendingJob,
    Placement,
    PolicyConfig,
    ProjectState,
    Reservation,
    RunningJob,
)
from aicc.core.scheduling.scheduler import Scheduler

__all__ = [
    "POLICIES",
    "Admission",
    "CycleResult",
    "FlavorChoice",
    "FlavorInfo",
    "NodeInfo",
    "Order",
    "Pass",
    "PendingJob",
    "Placement",
    "PolicyConfig",
    "ProjectState",
    "Reservation",
    "RunningJob",
    "Scheduler",
]
