"""Wire models for the center's inventory and the audit log."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from aicc.api.schemas.common import Out, Strict


class Site(Out):
    id: int
    name: str
    executor: str
    region: str | None


class Flavor(Out):
    id: int
    name: str
    vendor: str
    memory_gb: int
    device_env: str | None
    su_rate: float
    retired: bool
    slice_of: str | None = None
    """A slice of a device (MIG profile): the whole device's flavor."""


class Node(Out):
    id: int
    name: str
    flavor: str
    accelerators: int
    cpus: int
    memory_gb: int
    retired: bool
    switch: str | None = None
    """Topology label from the inventory (the switch it hangs off), if any."""


class InventoryLoad(Strict):
    toml: str = Field(max_length=900_000, description="The inventory file's text.")
    source: str = Field("inventory.toml", max_length=200, pattern=r"^[^\x00-\x1f]+$",
                        description="File name shown in error messages.")


class InventoryLoaded(Out):
    site: str
    flavors: int
    nodes: int
    retired_nodes: int


class AuditEvent(Out):
    seq: int
    at: str
    actor: str | None
    action: str
    target_type: str
    target_id: str | None
    organization_id: int | None
    data: dict[str, Any]
    hash: str


class AuditProblem(Out):
    seq: int
    problem: str


class AuditVerification(Out):
    intact: bool
    events: int
    """Authentic events on the chain."""
    problems: list[AuditProblem]
    """First divergence first; at most 200 listed (``more_problems`` counts the rest)."""
    more_problems: int = 0
    anchors: int = 0
    """Checkpoints of the head found outside the database (the anchor file) for this chain."""
    keyed_from: int | None = None
    """First event under the keyed MAC; events before it are under the legacy SHA-256 chain."""
