"""How usage turns into service units (SU).

SU = accelerators x hours x the flavor's rate; CPU-only work is charged per
core-hour at the CPU flavor's rate. One formula (:func:`su`), used by metering
(through :func:`service_units`), by the budget checks at admission (the policy
core and the controller's committed spend) and by the simulator, so an estimate
and a charge never differ.
"""

from __future__ import annotations


def su(units: int, seconds: float, rate: float) -> float:
    """``units`` (accelerators, or cores on a CPU flavor) held for ``seconds`` at ``rate`` SU per unit-hour."""
    return units * max(seconds, 0.0) / 3600.0 * rate


def service_units(*, accelerators: int, cpus: int, seconds: float, rate: float, cpu_flavor: bool) -> float:
    return su(cpus if cpu_flavor else accelerators, seconds, rate)
