"""The simulated center: an inventory TOML (the controller's format) plus optional ``[[projects]]``.

``[[projects]]`` tables (name, weight, nominal = {flavor = units}, borrowing = {flavor = units},
budget_su, checkpoint_s) are read here, not by the inventory parser. Projects a trace mentions but the file
does not list get equal shares: nominal = capacity x weight / total weight, borrowing up to the whole flavor.

``[[reservations]]`` tables hold class hours as the live center does (:mod:`aicc.core.scheduling.windows`):
name, flavor, units, project (the member), start_s (seconds from the trace's start), length_s, and optionally
count and every_s (default weekly).

A ``[simulation]`` table says what preemption costs (:class:`PreemptionCost`): ``preempt_grace_s`` (the
controller's ``AICC_PREEMPT_GRACE``, default 10) and a center-wide ``checkpoint_s``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from aicc.core.inventory import parse_inventory
from aicc.core.scheduling import FlavorInfo, NodeInfo


class CenterError(ValueError):
    pass


def check_interval(value: object, where: str) -> float | None:
    """A checkpoint interval: None (no checkpoints) or a positive, finite number of seconds."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not (value > 0 and math.isfinite(value)):
        raise CenterError(f"{where}: a checkpoint interval must be a positive number of seconds (got {value!r})")
    return float(value)


@dataclass(frozen=True, slots=True)
class PreemptionCost:
    """What a preempted job loses: the work since its last checkpoint, and the grace period.

    A victim is sent SIGTERM and keeps its accelerators for ``grace_s`` (as the controller's
    ``AICC_PREEMPT_GRACE``) before they are free for the job that preempted it; that time is lost too. A job
    checkpoints every ``checkpoint_s`` seconds of run time (its own interval, else its project's, else this
    one); with none, the whole attempt is lost and it starts again from the beginning.

    ``lossless`` is the idealised victim of the simulator before preemption had a cost (it stops at once and
    keeps all its progress): comparisons with a clock that assumes it, and decisions pinned before the cost.
    """

    grace_s: float = 10.0
    checkpoint_s: float | None = None
    lossless: bool = False

    def __post_init__(self) -> None:
        if not (self.grace_s >= 0 and math.isfinite(self.grace_s)):
            raise CenterError(f"preempt_grace_s must be a non-negative number of seconds (got {self.grace_s})")
        check_interval(self.checkpoint_s, "checkpoint_s")


LOSSLESS = PreemptionCost(grace_s=0.0, lossless=True)
DEFAULT_COST = PreemptionCost()


@dataclass(frozen=True, slots=True)
class ProjectSpec:
    name: str
    weight: float = 1.0
    nominal: Mapping[str, int] | None = None
    """None: an equal share of each flavor."""
    borrowing: Mapping[str, int] | None = None
    """None: may borrow up to the whole flavor."""
    budget_su: float = math.inf
    checkpoint_s: float | None = None
    """Checkpoint interval of its jobs that declare none (None: the center's)."""


@dataclass(frozen=True, slots=True)
class SimReservation:
    """Class hours in simulated time: ``units`` of ``flavor`` for ``project`` over ``count`` windows."""

    name: str
    flavor: str
    units: int
    project: str
    start_s: float
    length_s: float
    count: int = 1
    every_s: float = 7 * 86400.0

    def windows(self) -> list[tuple[float, float]]:
        return [(self.start_s + k * self.every_s, self.start_s + k * self.every_s + self.length_s)
                for k in range(self.count)]


@dataclass(frozen=True, slots=True)
class SimCenter:
    name: str
    flavors: tuple[FlavorInfo, ...]
    nodes: tuple[NodeInfo, ...]
    projects: Mapping[str, ProjectSpec] = field(default_factory=dict)
    preemption: PreemptionCost = DEFAULT_COST
    reservations: tuple[SimReservation, ...] = ()

    def capacity(self) -> dict[str, int]:
        cpu = {f.name for f in self.flavors if f.cpu}
        out = {f.name: 0 for f in self.flavors}
        for n in self.nodes:
            out[n.flavor] += n.cpus if n.flavor in cpu else n.accelerators
        return out

    def with_accelerators(self, flavor: str, units: int) -> SimCenter:
        """The same center with ``units`` accelerators of ``flavor`` (whole nodes of its first node shape)."""
        shape = next((n for n in self.nodes if n.flavor == flavor), None)
        if shape is None:
            if flavor not in {f.name for f in self.flavors}:
                raise CenterError(f"unknown flavor {flavor!r}")
            shape = NodeInfo(f"{flavor}-node", flavor, 8, 64, 1024 * 1024)
        count = max(1, math.ceil(units / max(shape.accelerators, 1)))
        others = tuple(n for n in self.nodes if n.flavor != flavor)
        new = tuple(replace(shape, name=f"{flavor}-sim-{k:05d}") for k in range(count))
        return replace(self, nodes=others + new)

    def resolve_projects(self, names: Iterable[str]) -> dict[str, ProjectSpec]:
        """Every project of the trace with its quotas filled in."""
        specs = {n: self.projects.get(n, ProjectSpec(n)) for n in names}
        total_w = sum(s.weight for s in specs.values()) or 1.0
        cap = self.capacity()
        out: dict[str, ProjectSpec] = {}
        for n, s in specs.items():
            nominal = s.nominal if s.nominal is not None else \
                {f: math.floor(c * s.weight / total_w) for f, c in cap.items()}
            borrowing = s.borrowing if s.borrowing is not None else dict(cap)
            out[n] = replace(s, nominal=nominal, borrowing=borrowing)
        return out


def _units_table(raw: Any, where: str) -> dict[str, int] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not all(isinstance(v, int) and v >= 0 for v in raw.values()):
        raise CenterError(f"{where}: must be a table of flavor = non-negative integer")
    return {str(k): int(v) for k, v in raw.items()}


def parse_center(text: str, source: str) -> SimCenter:
    inv = parse_inventory(text, source, keep_tables=("projects", "simulation", "reservations"))
    flavors = tuple(FlavorInfo(f.name, f.su_rate, f.is_cpu) for f in inv.flavors.values())
    nodes = tuple(NodeInfo(n.name, n.flavor, n.accelerators, n.cpus, n.memory_gb * 1024, switch=n.switch)
                  for n in inv.nodes)
    projects: dict[str, ProjectSpec] = {}
    raw_projects = inv.extra.get("projects", [])
    if not isinstance(raw_projects, list):
        raise CenterError(f"{source}: projects must be [[projects]] tables")
    for i, raw in enumerate(raw_projects):
        where = f"{source}: projects[{i}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise CenterError(f"{where}: needs a name")
        unknown = set(raw) - {"name", "weight", "nominal", "borrowing", "budget_su", "checkpoint_s"}
        if unknown:
            raise CenterError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        weight = raw.get("weight", 1.0)
        budget = raw.get("budget_su", math.inf)
        if not isinstance(weight, int | float) or weight <= 0 or not isinstance(budget, int | float) or budget < 0:
            raise CenterError(f"{where}: weight must be > 0 and budget_su >= 0")
        checkpoint = check_interval(raw.get("checkpoint_s"), f"{where} ({raw['name']}): checkpoint_s")
        projects[raw["name"]] = ProjectSpec(raw["name"], float(weight), _units_table(raw.get("nominal"), where),
                                            _units_table(raw.get("borrowing"), where), float(budget), checkpoint)
    return SimCenter(inv.site.name, flavors, nodes, projects, _preemption(inv.extra.get("simulation", {}), source),
                     _reservations(inv.extra.get("reservations", []), source, {f.name for f in flavors}))


def _reservations(raw: Any, source: str, flavors: set[str]) -> tuple[SimReservation, ...]:
    if not isinstance(raw, list):
        raise CenterError(f"{source}: reservations must be [[reservations]] tables")
    out = []
    for i, r in enumerate(raw):
        where = f"{source}: reservations[{i}]"
        if not isinstance(r, dict):
            raise CenterError(f"{where}: must be a table")
        unknown = set(r) - {"name", "flavor", "units", "project", "start_s", "length_s", "count", "every_s"}
        if unknown:
            raise CenterError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        name, flavor, project = r.get("name"), r.get("flavor"), r.get("project")
        if not (isinstance(name, str) and isinstance(project, str) and flavor in flavors):
            raise CenterError(f"{where}: needs a name, a project and one of the flavors")
        nums = [r.get("units"), r.get("start_s"), r.get("length_s"), r.get("count", 1), r.get("every_s", 604800)]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in nums) or \
                nums[0] < 1 or nums[1] < 0 or nums[2] <= 0 or nums[3] < 1 or nums[4] < nums[2]:
            raise CenterError(f"{where}: units >= 1, start_s >= 0, length_s > 0, count >= 1, every_s >= length_s")
        out.append(SimReservation(name, str(flavor), int(nums[0]), project, float(nums[1]), float(nums[2]),
                                  int(nums[3]), float(nums[4])))
    return tuple(out)


def _preemption(raw: Any, source: str) -> PreemptionCost:
    """The ``[simulation]`` table: ``preempt_grace_s`` and ``checkpoint_s``."""
    where = f"{source}: [simulation]"
    if not isinstance(raw, dict):
        raise CenterError(f"{where} must be a table")
    unknown = set(raw) - {"preempt_grace_s", "checkpoint_s"}
    if unknown:
        raise CenterError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    grace = raw.get("preempt_grace_s", 10.0)
    if isinstance(grace, bool) or not isinstance(grace, int | float) or not (grace >= 0 and math.isfinite(grace)):
        raise CenterError(f"{where}: preempt_grace_s must be a non-negative number of seconds (got {grace!r})")
    return PreemptionCost(float(grace), check_interval(raw.get("checkpoint_s"), f"{where} checkpoint_s"))


def gavel_center(spec: str = "300:300:300", per_node: int = 4,
                 flavors: tuple[str, ...] = ("k80", "p100", "v100")) -> SimCenter:
    """Gavel's heterogeneous cluster (``cluster_specs_heterogeneous.json``: "k80:p100:v100" counts).

    Every flavor charges 1 SU per GPU-hour, so placement differs only by what a policy knows of speed.
    """
    counts = [int(c) for c in spec.split(":")]
    nodes: list[NodeInfo] = []
    for flavor, count in zip(flavors, counts, strict=True):
        nodes += [NodeInfo(f"{flavor}-{k:04d}", flavor, per_node, 8 * per_node, 64 * 1024 * per_node)
                  for k in range(math.ceil(count / per_node))]
    return SimCenter("gavel-heterogeneous", tuple(FlavorInfo(f, 1.0) for f in flavors), tuple(nodes))


def gavel_center_from_json(text: str) -> SimCenter:
    raw = json.loads(text)
    return gavel_center(next(iter(raw.values()))[0])
