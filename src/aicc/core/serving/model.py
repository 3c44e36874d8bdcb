"""A service's states, its replicas' states, what its events say, and the rules for what people type."""

from __future__ import annotations

import enum
import re

from aicc.core.errors import InvalidInput

DNS_LABEL = re.compile(r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
"""RFC 1123 label, starting with a letter (RFC 1035): the name is a path segment and may become a host name."""
HEALTH_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,255}$")


class ServiceState(enum.StrEnum):
    ACTIVE = "active"
    """Replicas are kept at the wanted count."""
    STOPPED = "stopped"
    """Stopped with a reason (its budget ran out, or on request); no replica runs."""
    FAILED = "failed"
    """Replicas never became healthy, start after start: not restarted forever; the reason has the last log lines."""
    DELETED = "deleted"

    @property
    def keeps_replicas(self) -> bool:
        return self is ServiceState.ACTIVE


class ReplicaState(enum.StrEnum):
    STARTING = "starting"
    """Admitted or running, not yet answering its health path: no requests."""
    READY = "ready"
    """In rotation: the gateway sends it requests."""
    UNHEALTHY = "unhealthy"
    """Was ready, failed its last check: out of rotation at once, restarted if it does not recover."""
    DRAINING = "draining"
    """Out of rotation on purpose (update, scale-down): requests in flight finish, then it is stopped."""

    @property
    def in_rotation(self) -> bool:
        return self is ReplicaState.READY


class EventKind(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    ROLLED_BACK = "rolled_back"
    SCALED = "scaled"
    AUTOSCALED = "autoscaled"
    REPLICA_SUBMITTED = "replica_submitted"
    REPLICA_READY = "replica_ready"
    REPLICA_UNHEALTHY = "replica_unhealthy"
    REPLICA_RESTARTED = "replica_restarted"
    REPLICA_EXITED = "replica_exited"
    REPLICA_DRAINED = "replica_drained"
    ROLLOUT_DONE = "rollout_done"
    BUDGET_WARNING = "budget_warning"
    STOPPED = "stopped"
    FAILED = "failed"
    DELETED = "deleted"
    KEY_CREATED = "key_created"
    KEY_REVOKED = "key_revoked"


def check_service_name(value: str) -> str:
    if not DNS_LABEL.match(value):
        raise InvalidInput(f"service name {value!r} must be a DNS label: 1-63 lowercase letters, digits or '-', "
                           "starting with a letter and not ending with '-'")
    return value


def check_port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise InvalidInput(f"port {value} must be between 1 and 65535")
    return value


def check_health_path(value: str) -> str:
    if not HEALTH_PATH.match(value) or "/../" in value + "/" or value.endswith("/.."):
        raise InvalidInput(f"health path {value!r} must be an absolute URL path such as /health")
    return value
