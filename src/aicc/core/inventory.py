"""The center's hardware as the operator describes it in a TOML file.

Parsing is pure (text in, frozen dataclasses out) so the live store, the
simulator's ``center.toml`` and the tests share one validator. Every error names
the file, the line and the field, and the whole file is rejected on the first
error: a half-loaded inventory would let the scheduler admit against hardware
that is not there.

Format::

    [site]
    name = "gwangju"
    executor = "local"            # or "slurm"

    [[flavors]]
    name = "h100"
    vendor = "nvidia"
    memory_gb = 80
    device_env = "CUDA_VISIBLE_DEVICES"
    su_rate = 2.0                 # service units per accelerator-hour (per core-hour for CPU flavors)

    [[flavors]]                   # a slice of a device (an NVIDIA MIG profile): a flavor of its own
    name = "h100.1g.10gb"
    vendor = "nvidia"
    memory_gb = 10
    su_rate = 0.3
    slice_of = "h100"             # the whole device's flavor

    [[nodes]]
    name = "h100-node"
    flavor = "h100"
    accelerators = 8
    cpus = 64
    memory_gb = 1024
    count = 2                     # optional: expands to h100-node-01, h100-node-02
    switch = "leaf-1"             # optional topology label: a gang wider than a node prefers one switch;
                                  # on all nodes of a flavor or on none

    [[nodes]]                     # the slices a host offers: one entry per flavor, named apart
    name = "h100-node-01-mig"
    flavor = "h100.1g.10gb"
    accelerators = 7
    cpus = 14
    memory_gb = 128
    devices = ["MIG-<uuid>", …]   # optional: how a run is handed each one (else its index); one per accelerator
    [storage]                     # optional: workspaces charged against the project's budget
    su_per_gb_month = 0.5         # SU per GiB held for a month (730 h), sampled by the controller; default 0
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aicc.core.charging import STORAGE_FLAVOR
from aicc.core.errors import InvalidInput
from aicc.core.names import DEVICE_ID_RE, ENV_VAR_RE, FLAVOR_RE, SLUG_RE

EXECUTORS = ("local", "slurm")
VENDORS = ("nvidia", "amd", "intel", "rebellions", "furiosa", "cpu", "other")
MAX_NODES = 100_000


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    executor: str = "local"
    region: str | None = None


CPU_VENDOR = "cpu"
"""The vendor that makes a flavor a CPU flavor: units are cores, charged per core-hour."""


@dataclass(frozen=True, slots=True)
class Flavor:
    """An accelerator type. A CPU flavor (``vendor = "cpu"``) is charged per core-hour."""

    name: str
    vendor: str
    memory_gb: int
    device_env: str | None
    su_rate: float
    slice_of: str | None = None
    """A slice of a device (MIG profile): the whole device's flavor. Scheduled and charged as its own flavor."""

    @property
    def is_cpu(self) -> bool:
        return self.vendor == CPU_VENDOR


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    flavor: str
    accelerators: int
    cpus: int
    memory_gb: int
    switch: str | None = None
    """The network switch it hangs off (topology): a gang wider than a node prefers nodes under one."""
    devices: tuple[str, ...] = ()
    """How a run is handed each accelerator, by index (``MIG-<uuid>`` for a slice); empty: the index itself."""


@dataclass(frozen=True, slots=True)
class Inventory:
    site: Site
    flavors: Mapping[str, Flavor]
    nodes: tuple[Node, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)  # unknown top-level tables a caller asked to keep
    storage_su_per_gb_month: float = 0.0
    """``[storage] su_per_gb_month``: workspace storage is charged like a flavor, per GiB-month."""

    def capacity(self) -> dict[str, int]:
        """Accelerators per flavor (CPU cores for CPU flavors)."""
        total: dict[str, int] = dict.fromkeys(self.flavors, 0)
        for node in self.nodes:
            flavor = self.flavors[node.flavor]
            total[node.flavor] += node.cpus if flavor.is_cpu else node.accelerators
        return total


class InventoryError(InvalidInput):
    """A problem in an inventory file, located as precisely as we can."""

    def __init__(self, source: str, line: int | None, field_path: str, message: str) -> None:
        where = f"{source}:{line}" if line else source
        super().__init__(
            f"{where}: {field_path}: {message}" if field_path else f"{where}: {message}",
            errors=[{"source": source, "line": line, "field": field_path, "message": message}],
        )
        self.source = source
        self.line = line
        self.field_path = field_path


_HEADER_RE = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]\]?")
_KEY_RE = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


class _Locator:
    """Maps (table, index, key) to line numbers. tomllib keeps no positions, so we scan once."""

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[str, int, str], int] = {}
        counts: dict[str, int] = {}
        table, index = "", 0
        for number, raw in enumerate(text.splitlines(), start=1):
            header = _HEADER_RE.match(raw)
            if header:
                table = header.group(2)
                if header.group(1) == "[[":
                    index = counts.get(table, -1) + 1
                    counts[table] = index
                else:
                    index = 0
                self.lines[(table, index, "")] = number
                continue
            key = _KEY_RE.match(raw)
            if key:
                self.lines.setdefault((table, index, key.group(1)), number)

    def line(self, table: str, index: int, key: str = "") -> int | None:
        return self.lines.get((table, index, key)) or self.lines.get((table, index, ""))


Checker = Callable[[Any], str | None]


def _int_at_least(low: int) -> Checker:
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, int):
            return "must be an integer"
        return None if v >= low else f"must be at least {low}"

    return check


def _positive_number(v: Any) -> str | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return "must be a number"
    return None if 0 < v < 1e9 else "must be greater than 0"


def _non_negative_number(v: Any) -> str | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0 or v == float("inf"):
        return "must be a number, 0 or more"
    return None


def _slug(v: Any) -> str | None:
    if not isinstance(v, str):
        return "must be a string"
    return None if SLUG_RE.match(v) else "must be lowercase letters, digits and '-' (1-63 characters)"


def _flavor_name(v: Any) -> str | None:
    if not isinstance(v, str):
        return "must be a string"
    return None if FLAVOR_RE.match(v) else "must be lowercase letters, digits, '-' and '.' (1-63 characters)"


def _device_ids(v: Any) -> str | None:
    if not isinstance(v, list) or not v or len(v) > 1024:
        return "must be a list of device selectors (one per accelerator)"
    for d in v:
        if not isinstance(d, str) or not DEVICE_ID_RE.match(d):
            return f"{d!r} is not a device selector (MIG-<uuid>, GPU-<uuid>, an index)"
    return None if len(set(v)) == len(v) else "names a device twice"


def _one_of(choices: tuple[str, ...]) -> Checker:
    def check(v: Any) -> str | None:
        return None if v in choices else f"must be one of {', '.join(choices)}"

    return check


def _env_var(v: Any) -> str | None:
    if not isinstance(v, str) or not ENV_VAR_RE.match(v):
        return "must be an environment variable name like CUDA_VISIBLE_DEVICES"
    return None


def _short_text(v: Any) -> str | None:
    return None if isinstance(v, str) and 0 < len(v) <= 200 else "must be a string of 1-200 characters"


_SITE = {"name": (_slug, True), "executor": (_one_of(EXECUTORS), False), "region": (_short_text, False)}
_FLAVOR = {
    "name": (_flavor_name, True),
    "vendor": (_one_of(VENDORS), True),
    "memory_gb": (_int_at_least(0), False),
    "device_env": (_env_var, False),
    "su_rate": (_positive_number, True),
    "slice_of": (_flavor_name, False),
}
_NODE = {
    "name": (_slug, True),
    "flavor": (_flavor_name, True),
    "accelerators": (_int_at_least(0), True),
    "cpus": (_int_at_least(1), True),
    "memory_gb": (_int_at_least(1), True),
    "count": (_int_at_least(1), False),
    "switch": (_slug, False),
    "devices": (_device_ids, False),
}


_STORAGE: dict[str, tuple[Checker, bool]] = {"su_per_gb_month": (_non_negative_number, False)}


def parse_inventory(text: str, source: str, *, keep_tables: tuple[str, ...] = ()) -> Inventory:
    """Parse and validate an inventory; raise :class:`InventoryError` on the first problem.

    ``keep_tables`` lets a caller (the simulator's center file) accept extra
    top-level tables, returned untouched in ``Inventory.extra``.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise InventoryError(source, int(match.group(1)) if match else None, "", f"not valid TOML: {exc}") from exc
    loc = _Locator(text)

    def fail(table: str, index: int, key: str, message: str) -> InventoryError:
        label = table if table in ("site", "storage") else f"{table}[{index}]"
        return InventoryError(source, loc.line(table, index, key), f"{label}.{key}" if key else label, message)

    for key in doc:
        if key not in ("site", "flavors", "nodes", "storage", *keep_tables):
            raise InventoryError(source, loc.line(key, 0), key,
                                 "unknown table (expected site, flavors, nodes, storage)")

    def table_fields(table: str, index: int, raw: Any, spec: dict[str, tuple[Checker, bool]]) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise fail(table, index, "", "must be a table")
        for key in raw:
            if key not in spec:
                raise fail(table, index, key, f"unknown field (expected {', '.join(spec)})")
        for key, (check, required) in spec.items():
            if key not in raw:
                if required:
                    raise fail(table, index, key, "is required")
                continue
            problem = check(raw[key])
            if problem:
                raise fail(table, index, key, problem)
        return raw

    site_raw = table_fields("site", 0, doc.get("site", {"name": "default"}), _SITE)
    site = Site(name=site_raw["name"], executor=site_raw.get("executor", "local"), region=site_raw.get("region"))

    flavors_raw = doc.get("flavors", [])
    if not isinstance(flavors_raw, list) or not flavors_raw:
        raise InventoryError(source, None, "flavors", "at least one [[flavors]] table is required")
    flavors: dict[str, Flavor] = {}
    for i, raw in enumerate(flavors_raw):
        f = table_fields("flavors", i, raw, _FLAVOR)
        if f["name"] in flavors:
            raise fail("flavors", i, "name", f"duplicate flavor {f['name']!r}")
        if f["name"] == STORAGE_FLAVOR:
            raise fail("flavors", i, "name", f"{STORAGE_FLAVOR!r} is reserved: the usage ledger's storage rows")
        is_cpu = f["vendor"] == CPU_VENDOR
        if is_cpu and "device_env" in f:
            raise fail("flavors", i, "device_env", "a CPU flavor selects no devices")
        flavors[f["name"]] = Flavor(
            name=f["name"],
            vendor=f["vendor"],
            memory_gb=f.get("memory_gb", 0),
            device_env=None if is_cpu else f.get("device_env", "CUDA_VISIBLE_DEVICES"),
            su_rate=float(f["su_rate"]),
            slice_of=f.get("slice_of"),
        )
    for i, declared in enumerate(flavors.values()):
        whole = flavors.get(declared.slice_of) if declared.slice_of else None
        if declared.slice_of and (whole is None or whole.is_cpu or whole.slice_of or declared.is_cpu):
            raise fail("flavors", i, "slice_of", "must name a declared accelerator flavor that is not itself a slice")

    nodes: list[Node] = []
    seen: set[str] = set()
    labelled: dict[str, tuple[bool, int]] = {}  # per flavor: whether its first node entry has a switch, where
    for i, raw in enumerate(doc.get("nodes", [])):
        n = table_fields("nodes", i, raw, _NODE)
        flavor = flavors.get(n["flavor"])
        if flavor is None:
            raise fail("nodes", i, "flavor", f"unknown flavor {n['flavor']!r} (declared: {', '.join(flavors)})")
        has, (first, at) = "switch" in n, labelled.setdefault(flavor.name, ("switch" in n, i))
        if has != first:
            raise fail("nodes", i, "switch" if has else "", f"a topology label on some {flavor.name} nodes but not "
                       f"others: label all of them or none (nodes[{at}] {'has' if first else 'has none'})")
        if flavor.is_cpu and n["accelerators"] != 0:
            raise fail("nodes", i, "accelerators", "must be 0 on a CPU node")
        if not flavor.is_cpu and n["accelerators"] == 0:
            raise fail("nodes", i, "accelerators", f"an {flavor.name} node needs at least 1 accelerator")
        if "devices" in n and len(n["devices"]) != n["accelerators"]:
            raise fail("nodes", i, "devices", f"names {len(n['devices'])} devices for {n['accelerators']} accelerators")
        count = n.get("count", 1)
        if len(nodes) + count > MAX_NODES:
            raise fail("nodes", i, "count", f"more than {MAX_NODES} nodes in one inventory")
        width = max(2, len(str(count)))
        names = [n["name"]] if count == 1 else [f"{n['name']}-{k:0{width}d}" for k in range(1, count + 1)]
        for name in names:
            if name in seen or len(name) > 63:
                raise fail("nodes", i, "name", f"duplicate or too long node name {name!r}")
            seen.add(name)
            nodes.append(Node(name, flavor.name, n["accelerators"], n["cpus"], n["memory_gb"], n.get("switch"),
                              tuple(n.get("devices", ()))))
    extra = {k: doc[k] for k in keep_tables if k in doc}
    storage = table_fields("storage", 0, doc.get("storage", {}), _STORAGE)
    return Inventory(site=site, flavors=flavors, nodes=tuple(nodes), extra=extra,
                     storage_su_per_gb_month=float(storage.get("su_per_gb_month", 0.0)))
