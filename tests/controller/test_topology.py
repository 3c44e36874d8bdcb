"""A node's switch label travels from the inventory file through the database to the live policy and the API."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from aicc.controller.planning import Planner
from aicc.services import inventory
from aicc.services.principal import SYSTEM
from aicc.store.db import Database
from tests.world import World

TOPOLOGY = """
[site]
name = "test-site"

[[flavors]]
name = "h100"
vendor = "nvidia"
su_rate = 2.0

[[nodes]]
name = "left"
flavor = "h100"
accelerators = 8
cpus = 64
memory_gb = 512
count = 2
switch = "leaf-1"

[[nodes]]
name = "right"
flavor = "h100"
accelerators = 8
cpus = 64
memory_gb = 512
switch = "leaf-2"
"""


def test_switch_labels_reach_the_database_the_api_and_the_live_policy(app_client: TestClient, world: World,
                                                                      db: Database) -> None:
    with db.write() as s:
        inventory.load(s, SYSTEM, TOPOLOGY, "center.toml")
    nodes = app_client.get("/api/v1/nodes", headers=World.auth(world.admin_token)).json()
    assert {n["name"]: n["switch"] for n in nodes} == {"left-01": "leaf-1", "left-02": "leaf-1", "right": "leaf-2"}
    planner = Planner()
    with db.read() as s:
        planner.plan(s, dt.datetime.now(dt.UTC))
    assert planner.state is not None
    assert planner.state.sched.pools["h100"].switch_of == {"left-01": "leaf-1", "left-02": "leaf-1",
                                                           "right": "leaf-2"}
    with db.write() as s:  # a reload without labels clears them
        inventory.load(s, SYSTEM, TOPOLOGY.replace('switch = "leaf-1"\n', "").replace('switch = "leaf-2"\n', ""),
                       "center.toml")
    nodes = app_client.get("/api/v1/nodes", headers=World.auth(world.admin_token)).json()
    assert {n["switch"] for n in nodes} == {None}
