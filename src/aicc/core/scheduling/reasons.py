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


def reserved(flavor: str, start: float, now: float, held: bool = False) -> Reason:
    """Never a past time as the future. The reservation is node-aware, so a start at ``now`` means a node set of
    the job's shape is free by accelerators: held for jobs preempting within their quota (``held``), or its
    nodes lack the cores or memory the job asks for."""
    if start <= now:
        return Reason(ReasonCode.RESERVED_HELD if held else ReasonCode.RESERVED_NOW, {"flavor": flavor})
    return Reason(ReasonCode.RESERVED, {"flavor": flavor, "at": start})


def preempt_exempt(flavor: str, units: int, at: float, after_s: float) -> Reason:
    """The borrowed jobs that would make room are still in their exemption: preemptible from ``at`` (future)."""
    return Reason(ReasonCode.PREEMPT_EXEMPT, {"flavor": flavor, "units": units, "at": at,
                                              "minutes": round(after_s / 60, 1)})


def preempt_no_borrowed(flavor: str, units: int, at: float | None = None) -> Reason:
    """No set of borrowed jobs of other projects could give it its shape; ``at``: its reservation's start."""
    if at is not None:
        return Reason(ReasonCode.PREEMPT_NO_BORROWED_RESERVED, {"flavor": flavor, "units": units, "at": at})
    return Reason(ReasonCode.PREEMPT_NO_BORROWED, {"flavor": flavor, "units": units})


def preempt_costly(flavor: str, units: int, lost_s: float, gain_s: float, at: float) -> Reason:
    """Victims exist, but they would lose more work (``lost_s`` unit-seconds) than the job gains by not waiting
    until ``at`` (future), when a place of its shape frees by itself."""
    return Reason(ReasonCode.PREEMPT_COSTLY, {"flavor": flavor, "units": units, "lost_h": round(lost_s / 3600, 1),
                                              "gain_h": round(gain_s / 3600, 1), "at": at})


def behind_reservation(job_id: int) -> Reason:
    return Reason(ReasonCode.BEHIND_RESERVATION, {"job": job_id})


def behind_fifo(job_id: int) -> Reason:
    return Reason(ReasonCode.BEHIND_FIFO, {"job": job_id})


def preempting(victims: list[int]) -> Reason:
    return Reason(ReasonCode.PREEMPTING, {"jobs": list(victims)})


def preemption_in_progress() -> Reason:
    return Reason(ReasonCode.PREEMPTION_IN_PROGRESS)


IDLE = Reason(ReasonCode.CENTER_FULL)
