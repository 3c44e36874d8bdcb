"""Energy over LoadGen's window: counter differences, integrated power, and refusing a wrong number."""

from __future__ import annotations

import pytest

from aicc.testbed.energy import Sampler, counter_energy, integrated_energy


def test_counter_difference_is_interpolated_at_the_window_edges() -> None:
    samples = [(0.0, 100.0), (1.0, 200.0), (2.0, 300.0)]
    assert counter_energy(samples, 0.5, 1.5) == pytest.approx(100.0)


def test_counter_reset_or_uncovered_window_gives_none() -> None:
    assert counter_energy([(0.0, 100.0), (1.0, 5.0)], 0.0, 1.0) is None
    assert counter_energy([(0.0, 100.0), (1.0, 200.0)], 0.5, 3.0) is None


def test_power_samples_are_integrated_over_the_window_only() -> None:
    samples = [(0.0, 100.0), (1.0, 100.0), (2.0, 300.0), (3.0, 300.0)]
    assert integrated_energy(samples, 0.0, 1.0) == pytest.approx(100.0)
    assert integrated_energy(samples, 1.0, 2.0) == pytest.approx(200.0)
    assert integrated_energy(samples, 0.5, 2.5) == pytest.approx(50 + 200 + 150)
    assert integrated_energy(samples, 0.0, 9.0) is None


def test_sampler_prefers_the_counter_and_labels_it() -> None:
    clock = iter(range(1000))

    def read() -> tuple[float | None, float | None]:
        return float(next(clock)) * 10.0, 50.0

    with Sampler(read, "board", interval_s=0.001) as s:
        while len(s.counter) < 5:
            pass
    begin, end = s.counter[1][0], s.counter[-2][0]
    e = s.energy(begin, end)
    assert e is not None and e.source == "counter" and e.label == "board" and e.joules > 0
