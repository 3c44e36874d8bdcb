"""The policy's reasons: what a waiting user reads, built as codes with parameters (see
:mod:`aicc.core.jobs.reasons` for the codes and their English and Korean texts)."""

from __future__ import annotations

from aicc.core.jobs.reasons import Reason, ReasonCode


def quota(flavor: str, nominal: int, limit: int) -> Reason:
    if limit:
        return Reason(ReasonCode.QUOTA_AND_BORROWING, {"flavor": flavor, "nominal": nominal, "limit": limit})
    return Reason(ReasonCode.QUOTA, {"flavor": flavor, "nominal": nominal})


def no_quota(flavors: tuple[str, ...]) -> Reason:
    return Reason(ReasonCode.NO_QUOTA, {"flavors": ",".join(flavors)})


def budget(hours: float, needs: float, left: float) -> Reason:
    return Reason(ReasonCode.BUDGET, {"hours": hours, "needs": needs, "left": max(left, 0.0)})


def window_not_started(start: float) -> Reason:
    return Reason(ReasonCode.WINDOW_NOT_STARTED, {"at": start})


def window_ended() -> Reason:
    return Reason(ReasonCode.WINDOW_ENDED)


def suspended() -> Reason:
    return Reason(ReasonCode.SUSPENDED)


def capacity(flavors: tuple[str, ...], units: int, cpu: bool) -> Reason:
    code = ReasonCode.NO_CAPACITY_CORES if cpu else ReasonCode.NO_CAPACITY
    return Reason(code, {"flavors": ",".join(flavors), "units": units})


def reserved(flavor: str, start: float, now: float) -> Reason:
    """Never a past time as the future: a start at ``now`` means free by count but not by node shape."""
    if start <= now:
        return Reason(ReasonCode.RESERVED_NOW, {"flavor": flavor})
    return Reason(ReasonCode.RESERVED, {"flavor": flavor, "at": start})


def behind_reservation(job_id: int) -> Reason:
    return Reason(ReasonCode.BEHIND_RESERVATION, {"job": job_id})


def behind_fifo(job_id: int) -> Reason:
    return Reason(ReasonCode.BEHIND_FIFO, {"job": job_id})


def preempting(victims: list[int]) -> Reason:
    return Reason(ReasonCode.PREEMPTING, {"jobs": list(victims)})


def preemption_in_progress() -> Reason:
    return Reason(ReasonCode.PREEMPTION_IN_PROGRESS)


IDLE = Reason(ReasonCode.CENTER_FULL)
