"""The words a waiting user reads. Kept in one place so they stay consistent and translatable."""

from __future__ import annotations

import datetime as dt


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _unit(flavor_cpu: bool) -> str:
    return "CPU cores" if flavor_cpu else "accelerators"


def quota(flavor: str, nominal: int, limit: int) -> str:
    if limit:
        return f"waiting: project quota of {nominal} {flavor} and borrowing limit of {limit} in use"
    return f"waiting: project quota of {nominal} {flavor} in use"


def no_quota(flavors: tuple[str, ...]) -> str:
    return f"waiting: the project's allocation has no quota for {','.join(flavors)}"


def budget(hours: float, needs: float, left: float) -> str:
    return (f"waiting: allocation budget too low for {hours:g} h time limit "
            f"(needs {needs:,.1f} SU, {max(left, 0):,.1f} left)")


def window_not_started(start: float) -> str:
    return f"waiting: allocation window starts {_when(start)}"


def window_ended() -> str:
    return "waiting: the project's allocation has ended; ask for an extension"


def suspended() -> str:
    return "waiting: the project's allocation is suspended"


def capacity(flavors: tuple[str, ...], units: int, cpu: bool) -> str:
    return f"waiting: no flavor in {','.join(flavors)} has {units} free {_unit(cpu)}"


def reserved(flavor: str, start: float) -> str:
    return f"waiting: next in line; {flavor} capacity expected free by {_when(start)}"


def behind_reservation(job_id: int) -> str:
    return f"waiting: behind reservation for job {job_id}"


def behind_fifo(job_id: int) -> str:
    return f"waiting: behind job {job_id} (first in line)"


def preempting(victims: list[int]) -> str:
    return f"waiting: preempting borrowed capacity (job{'s' if len(victims) > 1 else ''} " \
           f"{', '.join(map(str, victims))})"


def preemption_in_progress() -> str:
    return "waiting: borrowed capacity is being returned for this job"


IDLE = "waiting: the center is full; queued behind jobs with a lower fair share or earlier submission"
