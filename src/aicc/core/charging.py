"""How usage turns into service units (SU).

SU = accelerators x hours x the flavor's rate; CPU-only work is charged per
core-hour at the CPU flavor's rate. One formula (:func:`su`), used by metering
(through :func:`service_units`), by the budget checks at admission (the policy
core and the controller's committed spend) and by the simulator, so an estimate
and a charge never differ.
"""

from __future__ import annotations

HOURS_PER_MONTH = 730.0
"""A billing month (365 x 24 / 12 hours), as storage is priced per GB-month."""
STORAGE_KIND = "storage"
"""``kind`` of the usage ledger's storage rows (runs are ``run``)."""
STORAGE_FLAVOR = "storage"
"""The flavor name storage rows carry in the usage ledger (and reports); no inventory flavor may take it."""


def su(units: float, seconds: float, rate: float) -> float:
    """``units`` (accelerators, cores on a CPU flavor, or GiB of storage) held for ``seconds`` at ``rate`` SU per
    unit-hour."""
    return units * max(seconds, 0.0) / 3600.0 * rate


def service_units(*, accelerators: int, cpus: int, seconds: float, rate: float, cpu_flavor: bool) -> float:
    return su(cpus if cpu_flavor else accelerators, seconds, rate)


def storage_su(*, gib: float, seconds: float, su_per_gb_month: float) -> float:
    """A workspace of ``gib`` GiB held for ``seconds``, at the inventory's rate per GiB-month: the same
    unit-hours formula as runs, the rate divided by the hours of a month."""
    return su(gib, seconds, su_per_gb_month / HOURS_PER_MONTH)
