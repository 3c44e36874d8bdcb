"""How usage turns into service units (SU).

SU = accelerators x hours x the flavor's rate; CPU-only work is charged per
core-hour at the CPU flavor's rate. One function, used by metering, budget
checks at admission and the simulator, so an estimate and a charge never differ.
"""

from __future__ import annotations


def service_units(*, accelerators: int, cpus: int, seconds: float, rate: float, cpu_flavor: bool) -> float:
    units = cpus if cpu_flavor else accelerators
    return units * max(seconds, 0.0) / 3600.0 * rate
