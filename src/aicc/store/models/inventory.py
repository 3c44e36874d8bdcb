"""Sites, flavors (accelerator types) and nodes, as last loaded from the inventory."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from aicc.core.inventory import CPU_VENDOR
from aicc.store.models.base import Base


class SiteRow(Base):
    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    executor: Mapped[str] = mapped_column(String(16), default="local")
    region: Mapped[str | None] = mapped_column(String(200))
    storage_su_per_gb_month: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    """The inventory's ``[storage] su_per_gb_month``: SU charged per GiB of workspace held for a month."""


class FlavorRow(Base):
    __tablename__ = "flavors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    vendor: Mapped[str] = mapped_column(String(32))
    memory_gb: Mapped[int] = mapped_column(Integer, default=0)
    device_env: Mapped[str | None] = mapped_column(String(64))
    su_rate: Mapped[float] = mapped_column(Float)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    """Gone from the inventory file. Kept because allocations and usage refer to it."""
    slice_of: Mapped[str | None] = mapped_column(String(63))
    """A slice of a device (an NVIDIA MIG profile such as ``h100.1g.10gb``): the whole device's flavor."""

    @property
    def is_cpu(self) -> bool:
        """A CPU flavor: its units are cores and its jobs ask for no accelerators (as ``core.inventory``)."""
        return self.vendor == CPU_VENDOR


class NodeRow(Base):
    __tablename__ = "nodes"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    flavor_id: Mapped[int] = mapped_column(ForeignKey("flavors.id"))
    accelerators: Mapped[int] = mapped_column(Integer)
    cpus: Mapped[int] = mapped_column(Integer)
    memory_gb: Mapped[int] = mapped_column(Integer)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    """Gone from the inventory file; jobs that ran on it still name it."""
    switch: Mapped[str | None] = mapped_column(String(63))
    """The network switch it hangs off (topology label; on all nodes of a flavor or none): a gang wider than a
    node prefers nodes under one switch."""
    devices: Mapped[list[str] | None] = mapped_column(JSON)
    """The device selectors of its accelerators, by index (MIG slices: ``MIG-<uuid>``), when the inventory names
    them; else a run is handed the indexes."""
