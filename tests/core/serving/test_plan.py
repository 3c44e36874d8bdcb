"""The replica plan: restarts with backoff, rolling updates one at a time, scaling, draining before stopping."""

from __future__ import annotations

import datetime as dt

import pytest

from aicc.core.errors import InvalidInput
from aicc.core.serving import Replica, ReplicaState, ServiceView, backoff_s, check_health_path, check_service_name, plan

NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
R, S, D, U = ReplicaState.READY, ReplicaState.STARTING, ReplicaState.DRAINING, ReplicaState.UNHEALTHY


def rep(job_id: int, revision: int, state: ReplicaState, ago_s: float = 100) -> Replica:
    return Replica(job_id, revision, state, NOW - dt.timedelta(seconds=ago_s))


def test_a_new_service_starts_all_its_replicas_at_once() -> None:
    p = plan(ServiceView(1, 3), [], NOW, drain_s=2)
    assert (p.start, p.drain, p.stop, p.rollout_done) == (3, [], [], False)


def test_a_lost_replica_is_replaced_but_not_before_its_backoff() -> None:
    later = NOW + dt.timedelta(seconds=4)
    assert plan(ServiceView(1, 2, next_start_at=later), [rep(1, 1, R)], NOW, drain_s=2).start == 0
    assert plan(ServiceView(1, 2, next_start_at=later), [rep(1, 1, R)], later, drain_s=2).start == 1


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_s(n) for n in range(0, 8)] == [0, 2, 4, 8, 16, 32, 60, 60]


@pytest.mark.parametrize(("replicas", "expect"), [
    # old ready, nothing new yet: one new replica beside them (surge of one), no old one leaves
    ([rep(1, 1, R), rep(2, 1, R)], (1, [])),
    # the new one is starting: wait, start no second and drain nothing
    ([rep(1, 1, R), rep(2, 1, R), rep(3, 2, S)], (0, [])),
    # the new one is ready: one old one drains (the newest of the old first), then the next new one starts
    ([rep(1, 1, R, 200), rep(2, 1, R, 100), rep(3, 2, R)], (1, [2])),
    # both new ready: the last old one drains
    ([rep(1, 1, R), rep(3, 2, R), rep(4, 2, R)], (0, [1])),
])
def test_a_rolling_update_replaces_one_replica_at_a_time(replicas: list[Replica],
                                                          expect: tuple[int, list[int]]) -> None:
    p = plan(ServiceView(2, 2), replicas, NOW, drain_s=2)
    assert (p.start, p.drain) == expect
    assert not p.rollout_done


def test_an_unhealthy_old_replica_leaves_before_a_ready_one() -> None:
    p = plan(ServiceView(2, 2), [rep(1, 1, R), rep(2, 1, U), rep(3, 2, R)], NOW, drain_s=2)
    assert p.drain == [2]


def test_draining_replicas_stop_only_after_the_drain_time() -> None:
    reps = [rep(1, 1, D, ago_s=1), rep(2, 1, D, ago_s=3), rep(3, 2, R), rep(4, 2, R)]
    p = plan(ServiceView(2, 2), reps, NOW, drain_s=2)
    assert p.stop == [2] and p.start == 0 and not p.rollout_done


def test_the_rollout_is_done_when_every_replica_is_current_and_ready() -> None:
    assert plan(ServiceView(2, 2), [rep(3, 2, R), rep(4, 2, R)], NOW, drain_s=2).rollout_done


def test_scaling_down_drains_not_ready_then_newest() -> None:
    reps = [rep(1, 1, R, 300), rep(2, 1, R, 100), rep(3, 1, S, 10), rep(4, 1, R, 200)]
    p = plan(ServiceView(1, 2), reps, NOW, drain_s=2)
    assert p.drain == [3, 2] and p.start == 0


def test_zero_replicas_drains_everything() -> None:
    p = plan(ServiceView(1, 0), [rep(1, 1, R), rep(2, 1, R)], NOW, drain_s=2)
    assert sorted(p.drain) == [1, 2]


def test_names_and_health_paths() -> None:
    assert check_service_name("ocr-v2") == "ocr-v2"
    for bad in ("", "Ocr", "ocr_", "9ocr", "ocr-", "a" * 64):
        with pytest.raises(InvalidInput):
            check_service_name(bad)
    assert check_health_path("/v1/health") == "/v1/health"
    for bad in ("health", "/a b", "/../etc", "//x/.."):
        with pytest.raises(InvalidInput):
            check_health_path(bad)
