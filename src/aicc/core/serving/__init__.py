"""Services: always-on endpoints whose replicas are runs of kind ``service`` (DESIGN.md, "Workloads").

Pure: states, names, the replica plan (restart with backoff, rolling updates, scaling), the autoscaler and the
budget warnings. The supervisor (``aicc.controller.serving``) reads rows, calls these, and writes the result.
"""

from aicc.core.serving.model import (
    EventKind,
    ReplicaState,
    ServiceState,
    check_health_path,
    check_port,
    check_service_name,
)
from aicc.core.serving.plan import Plan, Replica, ServiceView, backoff_s, plan

__all__ = [
    "EventKind",
    "Plan",
    "Replica",
    "ReplicaState",
    "ServiceState",
    "ServiceView",
    "backoff_s",
    "check_health_path",
    "check_port",
    "check_service_name",
    "plan",
]
