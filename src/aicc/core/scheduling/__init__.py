"""The admission policy: pure, shared by the live controller and the simulator.

Modules: ``model`` (the data the policy reads and returns), ``capacity`` (free
units per flavor and node placement), ``demand`` (what the waiting jobs ask for,
read by the early stops), ``fairshare`` (weighted DRF), ``reasons`` (what a
waiting user reads) and ``scheduler`` (the cycle: quota, borrowing, backfill,
preemption).
"""

from aicc.core.scheduling.model import (
    POLICIES,
    Admission,
    CycleResult,
    FlavorInfo,
    NodeInfo,
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
    "FlavorInfo",
    "NodeInfo",
    "PendingJob",
    "Placement",
    "PolicyConfig",
    "ProjectState",
    "Reservation",
    "RunningJob",
    "Scheduler",
]
