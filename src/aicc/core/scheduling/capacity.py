"""Free capacity per flavor, indexed so a placement costs O(devices per node), not O(nodes).

Nodes of a flavor sit in buckets by their number of free units; best fit takes
a node from the smallest bucket that still fits the gang, which keeps whole
nodes free for the large gangs that need them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from aicc.core.scheduling.model import FlavorInfo, NodeInfo, Placement


def pick_nodes(free: Mapping[str, int], units: int, per_node_max: int) -> dict[str, int] | None:
    """The nodes a gang of ``units`` takes given each node's free units, as :meth:`FlavorPool.place` chooses
    them (one node: the smallest hole that holds it; wider: the fewest nodes, largest holes first, the
    smallest hole that holds the rest last), with the units on each; None if it does not fit so."""
    if units <= 0 or per_node_max <= 0:
        return None
    k = math.ceil(units / per_node_max)
    chosen: dict[str, int] = {}
    left = units
    ranked = sorted(free.items(), key=lambda item: -item[1])
    for i in range(k):
        if i == k - 1:
            best = min(((n, f) for n, f in ranked if f >= left and n not in chosen), key=lambda item: item[1],
                       default=None)
            if best is None:
                return None
            chosen[best[0]] = left
            return chosen
        name, f = next(((n, f) for n, f in ranked if n not in chosen), ("", 0))
        if f <= 0:
            return None
        take = min(f, left)
        chosen[name] = take
        left -= take
        if left == 0:
            return chosen
    return None


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
    switch_of: dict[str, str] = field(default_factory=dict)
    """Node -> its switch, when the inventory labels them (topology)."""
    spread: bool = False
    """The last placement across nodes had to span switches (none of them could hold it alone)."""

    def _bucket(self, node: NodeFree) -> int:
        return node.units(self.flavor.cpu)

    def add_node(self, info: NodeInfo) -> None:
        units = info.cpus if self.flavor.cpu else info.accelerators
        node = NodeFree(info, list(range(info.accelerators)), info.cpus, info.memory_mb)
        self.nodes[info.name] = node
        if info.switch is not None:
            self.switch_of[info.name] = info.switch
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

    def place(self, units: int, cpus: int, memory_mb: int,
              cap: Mapping[str, int] | None = None) -> tuple[Placement, ...] | None:
        """Where a gang of ``units`` fits now, or None. Does not take it.

        ``cap``: the most units it may take on some nodes (a reservation's nodes, for a job that would still
        run when the reservation starts)."""
        if units > self.free or units <= 0:
            return None
        if cap and units > self.per_node_max:
            return self._place_capped(units, cpus, memory_mb, cap)
        if units <= self.per_node_max:
            for k in range(units, self.top + 1):
                for name in self.buckets.get(k, ()):
                    if cap and cap.get(name, units) < units:
                        continue
                    node = self.nodes[name]
                    if self.flavor.cpu:
                        if node.cpus >= units and node.memory_mb >= memory_mb:
                            return (Placement(name, (), units, memory_mb),)
                    elif node.cpus >= cpus and node.memory_mb >= memory_mb:
                        return (Placement(name, tuple(node.devices[:units]), cpus, memory_mb),)
            return None
        return self._place_across(units, cpus, memory_mb)

    def _place_capped(self, units: int, cpus: int, memory_mb: int,
                      cap: Mapping[str, int]) -> tuple[Placement, ...] | None:
        """:meth:`_place_across` with some nodes capped (a walk over all nodes: rare, so kept simple; switches
        are not preferred here)."""
        self.spread = bool(self.switch_of)
        if self.flavor.cpu:
            return None
        k = math.ceil(units / self.per_node_max)
        per_cpu, per_mem = math.ceil(cpus / k), math.ceil(memory_mb / k)
        usable = {name: min(len(n.devices), cap.get(name, len(n.devices))) for name, n in self.nodes.items()
                  if n.info.available and n.cpus >= per_cpu and n.memory_mb >= per_mem}
        chosen = pick_nodes(usable, units, self.per_node_max)
        if chosen is None:
            return None
        return tuple(Placement(name, tuple(self.nodes[name].devices[:n]), per_cpu, per_mem)
                     for name, n in chosen.items())

    def _place_in_one_switch(self, units: int, per_cpu: int, per_mem: int) -> tuple[Placement, ...] | None:
        """The gang on nodes under one switch, as :func:`pick_nodes` chooses them; of the switches that can
        hold it, the one with the least free (larger groups stay whole for larger gangs)."""
        groups: dict[str, dict[str, int]] = {}
        for name, switch in self.switch_of.items():
            node = self.nodes[name]
            if node.info.available and node.devices and node.cpus >= per_cpu and node.memory_mb >= per_mem:
                groups.setdefault(switch, {})[name] = len(node.devices)
        best: tuple[int, dict[str, int]] | None = None
        for free in groups.values():
            total = sum(free.values())
            if total < units or (best is not None and total >= best[0]):
                continue
            chosen = pick_nodes(free, units, self.per_node_max)
            if chosen is not None:
                best = (total, chosen)
        if best is None:
            return None
        return tuple(Placement(name, tuple(self.nodes[name].devices[:n]), per_cpu, per_mem)
                     for name, n in best[1].items())

    def fits_across(self, units: int) -> bool:
        """The fewest nodes a gang of ``units`` needs (``ceil(units / per_node_max)``) have that many free
        between them: what :meth:`_place_across` needs, cpus and memory aside."""
        k = -(-units // self.per_node_max) if self.per_node_max else 0
        if self.flavor.cpu or not k or units > self.free:
            return False
        got = 0
        for free in range(self.top, 0, -1):
            n = len(self.buckets.get(free, ()))
            if n:
                take = min(n, k)
                got += take * free
                k -= take
                if got >= units:
                    return True
                if not k:
                    return False
        return False

    def _place_across(self, units: int, cpus: int, memory_mb: int) -> tuple[Placement, ...] | None:
        """A gang larger than any node takes the fewest nodes (``ceil(units / per_node_max)``): whole free
        nodes first, the rest on the node that fits it best (the smallest hole that holds it, which keeps
        larger holes for later gangs). It waits rather than spread over more, partly used, nodes: a gang's
        ranks talk to each other, and every extra node is more traffic between nodes."""
        if self.flavor.cpu or not self.fits_across(units):
            return None  # CPU jobs run on one node
        nodes_needed = math.ceil(units / self.per_node_max)
        per_cpu = math.ceil(cpus / nodes_needed)
        per_mem = math.ceil(memory_mb / nodes_needed)
        if self.switch_of:
            within = self._place_in_one_switch(units, per_cpu, per_mem)
            self.spread = within is None
            if within is not None:
                return within
        chosen: list[Placement] = []
        used: set[str] = set()
        left = units

        def fits(name: str) -> bool:
            node = self.nodes[name]
            return name not in used and node.cpus >= per_cpu and node.memory_mb >= per_mem

        while left > 0 and len(chosen) < nodes_needed:
            last = len(chosen) == nodes_needed - 1
            sizes = range(left, self.top + 1) if last else range(self.top, 0, -1)  # best fit for the last part
            name = next((n for k in sizes for n in self.buckets.get(k, ()) if fits(n)), None)
            if name is None:
                return None
            node = self.nodes[name]
            n = min(len(node.devices), left)
            chosen.append(Placement(name, tuple(node.devices[:n]), per_cpu, per_mem))
            used.add(name)
            left -= n
        return tuple(chosen) if left == 0 else None
