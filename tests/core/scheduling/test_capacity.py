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


def _pool(free: dict[str, int], per_node: int = 8) -> FlavorPool:
    pool = FlavorPool(FlavorInfo("h100", 1.0))
    for name, n in free.items():
        pool.add_node(NodeInfo(name, "h100", per_node, 64, 512_000))
        if n < per_node:
            pool.take(name, tuple(range(per_node - n)), 0, 0)
    return pool


def _shape(placements: tuple[Placement, ...] | None) -> list[tuple[str, int]]:
    assert placements is not None
    return [(p.node, len(p.devices)) for p in placements]


def test_a_16_gpu_gang_on_8_gpu_nodes_takes_two_whole_nodes() -> None:
    pool = _pool({"n0": 5, "n1": 8, "n2": 7, "n3": 8})
    assert sorted(_shape(pool.place(16, 2, 1000))) == [("n1", 8), ("n3", 8)]


def test_a_12_gpu_gang_takes_one_whole_node_and_the_best_fitting_hole_for_the_rest() -> None:
    pool = _pool({"n0": 7, "n1": 8, "n2": 4, "n3": 5})
    assert _shape(pool.place(12, 2, 1000)) == [("n1", 8), ("n2", 4)]


def test_a_9_gpu_gang_waits_rather_than_spread_over_three_partly_used_nodes() -> None:
    pool = _pool({"n0": 3, "n1": 3, "n2": 3, "n3": 3})
    assert pool.free == 12 and pool.place(9, 2, 1000) is None and not pool.fits_across(9)
    pool = _pool({"n0": 3, "n1": 6, "n2": 3})
    assert sorted(_shape(pool.place(9, 2, 1000))) == [("n0", 3), ("n1", 6)]
