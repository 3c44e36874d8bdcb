"""Loading the inventory file into the store, atomically.

Flavors and nodes that disappear from the file are retired, not deleted:
allocations, usage and finished jobs still refer to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.core.inventory import Inventory, parse_inventory
from aicc.services import audit, generation
from aicc.services.principal import Principal
from aicc.store.models import FlavorRow, NodeRow, SiteRow


@dataclass(frozen=True, slots=True)
class LoadResult:
    site: str
    flavors: int
    nodes: int
    retired_nodes: int


def load(s: Session, actor: Principal, text: str, source: str) -> LoadResult:
    actor.require_center_admin()
    inv = parse_inventory(text, source)  # raises before anything is written
    return apply(s, actor, inv, source)


def apply(s: Session, actor: Principal, inv: Inventory, source: str) -> LoadResult:
    site = s.execute(select(SiteRow).where(SiteRow.name == inv.site.name)).scalar_one_or_none()
    if site is None:
        site = SiteRow(name=inv.site.name)
        s.add(site)
    site.executor, site.region = inv.site.executor, inv.site.region
    site.storage_su_per_gb_month = inv.storage_su_per_gb_month
    s.flush()

    flavors = {f.name: f for f in s.execute(select(FlavorRow)).scalars()}
    for name, f in inv.flavors.items():
        row = flavors.get(name)
        if row is None:
            row = flavors[name] = FlavorRow(name=name)
            s.add(row)
        row.vendor, row.memory_gb, row.device_env, row.su_rate = f.vendor, f.memory_gb, f.device_env, f.su_rate
        row.retired, row.slice_of = False, f.slice_of
    for name, row in flavors.items():
        if name not in inv.flavors:
            row.retired = True
    s.flush()

    nodes = {n.name: n for n in s.execute(select(NodeRow)).scalars()}
    for n in inv.nodes:
        node = nodes.get(n.name)
        if node is None:
            node = nodes[n.name] = NodeRow(name=n.name)
            s.add(node)
        node.site_id, node.flavor_id = site.id, flavors[n.flavor].id
        node.accelerators, node.cpus, node.memory_gb, node.retired = n.accelerators, n.cpus, n.memory_gb, False
        node.switch = n.switch
        node.devices = list(n.devices) or None
    wanted = {n.name for n in inv.nodes}
    retired = 0
    for name, node in nodes.items():
        if name not in wanted and not node.retired:
            node.retired = True
            retired += 1
    s.flush()
    result = LoadResult(inv.site.name, len(inv.flavors), len(inv.nodes), retired)
    generation.bump()
    audit.record(s, actor, "inventory.load", "site", site.id,
                 data={"source": source, "flavors": result.flavors, "nodes": result.nodes, "retired": retired})
    return result


def flavors(s: Session, *, include_retired: bool = False) -> list[FlavorRow]:
    q = select(FlavorRow).order_by(FlavorRow.name)
    if not include_retired:
        q = q.where(FlavorRow.retired.is_(False))
    return list(s.execute(q).scalars())


def nodes(s: Session, *, flavor: str | None = None, include_retired: bool = False) -> list[tuple[NodeRow, str]]:
    q = select(NodeRow, FlavorRow.name).join(FlavorRow, FlavorRow.id == NodeRow.flavor_id).order_by(NodeRow.name)
    if not include_retired:
        q = q.where(NodeRow.retired.is_(False))
    if flavor:
        q = q.where(FlavorRow.name == flavor)
    return [(n, f) for n, f in s.execute(q).all()]


def sites(s: Session) -> list[SiteRow]:
    return list(s.execute(select(SiteRow).order_by(SiteRow.name)).scalars())
