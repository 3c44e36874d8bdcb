"""Free capacity per flavor, indexed so a placement costs O(devices per node), not O(nodes).

Nodes of a flavor sit in buckets by their number of free units; best fit takes
a node from the smallest bucket that still fits the gang, which keeps whole
nodes free for the large gangs that need them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from aicc.core.scheduling.model import FlavorInfo, NodeInfo, Placement


@dataclass(slots=True)
class NodeFree:
    info: NodeInfo
    devices: list[int]
    cpus: int
    memory_mb: int

    def units(self, cpu: bool) -> int:
        return self.cpus if cpu else len(self.devices)


@dataclass(slots=True)
class FlavorPool:
    flavor: FlavorInfo
    nodes: dict[str, NodeFree] = field(default_factory=dict)
    buckets: dict[int, dict[str, None]] = field(default_factory=dict)
    """free units -> node names (an insertion-ordered set)."""
    total: int = 0
    free: int = 0
    per_node_max: int = 0
    top: int = 0
    """The most units free on one available node (the largest non-empty bucket), kept as buckets change."""

    def _bucket(self, node: NodeFree) -> int:
        return node.units(self.flavor.cpu)

    def add_node(self, info: NodeInfo) -> None:
        units = info.cpus if self.flavor.cpu else info.accelerators
        node = NodeFree(info, list(range(info.accelerators)), info.cpus, info.memory_mb)
        self.nodes[info.name] = node
        if info.available:
            self.total += units
            self.free += units
            self.per_node_max = max(self.per_node_max, units)
            self._insert(units, info.name)

    def _insert(self, units: int, name: str) -> None:
        self.buckets.setdefault(units, {})[name] = None
        if units > self.top:
            self.top = units

    def _remove(self, units: int, name: str) -> None:
        bucket = self.buckets.get(units)
        if bucket is not None:
            bucket.pop(name, None)
            if units == self.top and not bucket:
                top, buckets = units, self.buckets
                while top > 0 and not buckets.get(top):
                    top -= 1
                self.top = top

    def _move(self, node: NodeFree, before: int) -> None:
        self._remove(before, node.info.name)
        if node.info.available:
            self._insert(self._bucket(node), node.info.name)

    def take(self, node_name: str, devices: tuple[int, ...], cpus: int, memory_mb: int) -> None:
        node = self.nodes[node_name]
        cpu = self.flavor.cpu
        before = node.cpus if cpu else len(node.devices)
        n = len(devices)
        if tuple(node.devices[:n]) == devices:  # placements take the lowest free indexes
            node.devices = node.devices[n:]
        else:
            gone = set(devices)
            node.devices = [d for d in node.devices if d not in gone]
        node.cpus -= cpus
        node.memory_mb -= memory_mb
        after = node.cpus if cpu else len(node.devices)
        name = node.info.name
        self._remove(before, name)
        if node.info.available:
            self.free -= before - after
            self._insert(after, name)

    def give_back(self, p: Placement) -> None:
        node = self.nodes.get(p.node)
        if node is None:
            return
        before = self._bucket(node)
        node.devices = sorted(set(node.devices) | set(p.devices))
        node.cpus += p.cpus
        node.memory_mb += p.memory_mb
        if node.info.available:
            self.free += self._bucket(node) - before
        self._move(node, before)

    def set_available(self, node_name: str, available: bool) -> None:
        node = self.nodes[node_name]
        if node.info.available == available:
            return
        units = self._bucket(node)
        full = node.info.cpus if self.flavor.cpu else node.info.accelerators
        if available:
            node.info = replace(node.info, available=True)
            self.total += full
            self.free += units
            self._insert(units, node_name)
        else:
            self._remove(units, node_name)
            node.info = replace(node.info, available=False)
            self.total -= full
            self.free -= units

    def place(self, units: int, cpus: int, memory_mb: int) -> tuple[Placement, ...] | None:
        """Where a gang of ``units`` fits now, or None. Does not take it."""
        if units > self.free or units <= 0:
            return None
        if units <= self.per_node_max:
            for k in range(units, self.top + 1):
                for name in self.buckets.get(k, ()):
                    node = self.nodes[name]
                    if self.flavor.cpu:
                        if node.cpus >= units and node.memory_mb >= memory_mb:
                            return (Placement(name, (), units, memory_mb),)
                    elif node.cpus >= cpus and node.memory_mb >= memory_mb:
                        return (Placement(name, tuple(node.devices[:units]), cpus, memory_mb),)
            return None
        return self._place_across(units, cpus, memory_mb)

    def _place_across(self, units: int, cpus: int, memory_mb: int) -> tuple[Placement, ...] | None:
        """A gang larger than any node: whole free nodes first, the rest on the fullest partial node."""
        if self.flavor.cpu:
            return None  # CPU jobs run on one node
        nodes_needed = math.ceil(units / self.per_node_max)
        per_cpu = math.ceil(cpus / nodes_needed)
        per_mem = math.ceil(memory_mb / nodes_needed)
        chosen: list[Placement] = []
        left = units
        for k in range(self.per_node_max, 0, -1):
            for name in self.buckets.get(k, ()):
                node = self.nodes[name]
                if node.cpus < per_cpu or node.memory_mb < per_mem:
                    continue
                n = min(k, left)
                chosen.append(Placement(name, tuple(node.devices[:n]), per_cpu, per_mem))
                left -= n
                if left == 0:
                    return tuple(chosen)
        return None

