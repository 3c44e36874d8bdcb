"""/api/v1/sites, /flavors, /nodes (readable by every member) and /inventory (center admins load it)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from aicc.api.deps import DB, Actor
from aicc.api.schemas.inventory import Flavor, InventoryLoad, InventoryLoaded, Node, Site
from aicc.services import inventory as svc

router = APIRouter(tags=["inventory"])


@router.get("/sites", response_model=list[Site])
def list_sites(db: DB, actor: Actor) -> list[Site]:
    with db.read() as s:
        return [Site.model_validate(x) for x in svc.sites(s)]


@router.get("/flavors", response_model=list[Flavor])
def list_flavors(db: DB, actor: Actor, include_retired: bool = False) -> list[Flavor]:
    with db.read() as s:
        return [Flavor.model_validate(f) for f in svc.flavors(s, include_retired=include_retired)]


@router.get("/nodes", response_model=list[Node])
def list_nodes(
    db: DB, actor: Actor, flavor: str | None = Query(None, max_length=63, pattern=r"^[a-z0-9.-]+$"),
    include_retired: bool = False,
) -> list[Node]:
    with db.read() as s:
        return [Node(id=n.id, name=n.name, flavor=f, accelerators=n.accelerators, cpus=n.cpus,
                     memory_gb=n.memory_gb, retired=n.retired, switch=n.switch)
                for n, f in svc.nodes(s, flavor=flavor, include_retired=include_retired)]


@router.post("/inventory", response_model=InventoryLoaded)
def load_inventory(db: DB, actor: Actor, body: InventoryLoad) -> InventoryLoaded:
    with db.write() as s:
        r = svc.load(s, actor, body.toml, body.source)
        return InventoryLoaded(site=r.site, flavors=r.flavors, nodes=r.nodes, retired_nodes=r.retired_nodes)
