"""Autoscaling on requests in flight per replica: within min and max, up fast, down after a cooldown."""

from __future__ import annotations

import datetime as dt

from aicc.core.serving.autoscale import Scaling, wanted_replicas
from aicc.core.serving.budget import budget_step

NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
RULE = Scaling(min_replicas=1, max_replicas=4, target_in_flight=4, up_cooldown_s=10, down_cooldown_s=60)


def ago(s: float) -> dt.datetime:
    return NOW - dt.timedelta(seconds=s)


def test_scales_up_to_meet_the_load_within_max() -> None:
    assert wanted_replicas(RULE, 1, 9.0, None, NOW) == 3
    assert wanted_replicas(RULE, 1, 100.0, None, NOW) == 4


def test_scales_up_only_after_the_up_cooldown() -> None:
    assert wanted_replicas(RULE, 1, 9.0, ago(5), NOW) is None
    assert wanted_replicas(RULE, 1, 9.0, ago(11), NOW) == 3


def test_scales_down_only_after_the_longer_down_cooldown_and_never_below_min() -> None:
    assert wanted_replicas(RULE, 4, 0.0, ago(30), NOW) is None
    assert wanted_replicas(RULE, 4, 0.0, ago(61), NOW) == 1


def test_steady_load_at_target_leaves_it_alone() -> None:
    assert wanted_replicas(RULE, 2, 8.0, None, NOW) is None


def test_a_fixed_size_service_never_autoscales() -> None:
    fixed = Scaling(min_replicas=2, max_replicas=2, target_in_flight=4)
    assert wanted_replicas(fixed, 2, 100.0, None, NOW) is None


def test_budget_warns_once_per_threshold_then_stops() -> None:
    assert budget_step(100.0, 2.0, 0) == ("ok", 0)  # 50 h left
    assert budget_step(40.0, 2.0, 0) == ("warn", 24)  # 20 h
    assert budget_step(30.0, 2.0, 24) == ("ok", 24)  # still under 24 h: no second warning
    assert budget_step(5.0, 2.0, 24) == ("warn", 4)  # 2.5 h
    assert budget_step(1.0, 2.0, 4) == ("warn", 1)  # 0.5 h
    assert budget_step(1.0, 2.0, 1) == ("ok", 1)
    assert budget_step(0.0, 2.0, 1) == ("stop", 0)
    assert budget_step(-3.0, 2.0, 0) == ("stop", 0)
