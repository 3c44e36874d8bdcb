"""The flavor pool's index stays true to its nodes through any sequence of takes, returns and outages."""

from __future__ import annotations

import random

import pytest

from aicc.core.scheduling import FlavorInfo, NodeInfo, Placement
from aicc.core.scheduling.capacity import FlavorPool


def _check(pool: FlavorPool) -> None:
    free = {name: len(n.devices) for name, n in pool.nodes.items() if n.info.available}
    assert pool.free == sum(free.values())
    assert pool.top == max((k for k, b in pool.buckets.items() if b), default=0)
    assert pool.top == max(free.values(), default=0)
    for k, bucket in pool.buckets.items():
        assert all(free[name] == k for name in bucket)


@pytest.mark.parametrize("seed", range(5))
def test_buckets_free_count_and_largest_hole_follow_every_change(seed: int) -> None:
    rnd = random.Random(seed)
    pool = FlavorPool(FlavorInfo("g", 1.0))
    for k in range(6):
        pool.add_node(NodeInfo(f"n{k}", "g", rnd.choice([4, 8]), 64, 512_000, available=k != 5))
    held: list[Placement] = []
    for _ in range(400):
        action = rnd.random()
        if action < 0.5:
            where = pool.place(rnd.choice([1, 2, 3, 4, 8, 12]), 1, 1000)
            if where is not None:
                for p in where:
                    pool.take(p.node, p.devices, p.cpus, p.memory_mb)
                held.extend(where)
        elif action < 0.9 and held:
            pool.give_back(held.pop(rnd.randrange(len(held))))
        else:
            pool.set_available(f"n{rnd.randrange(6)}", rnd.random() < 0.7)
        _check(pool)
