"""Quota assignment: how many units a project may still take per flavor in a pass, and why it may not.

Kueue's flavor assigner in the small: within nominal quota (the guaranteed pass), then up to nominal plus
borrowing limit (the borrowing pass); quotas off is one shared pool. A project outside its allocation's
window or suspended takes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from aicc.core.jobs.reasons import Reason
from aicc.core.scheduling import reasons
from aicc.core.scheduling.model import Pass, PendingJob
from aicc.core.scheduling.state import SchedulerState


class QuotaState(SchedulerState):
    def _room(self, project: int, kind: Pass) -> dict[str, float]:
        """Units the project may still take per flavor in this pass (its quota headroom)."""
        if kind is Pass.ANY:
            return dict.fromkeys(self.flavors, float("inf"))
        version = self._version.get(project, 0)
        hit = self._rooms.get((project, kind))
        if hit is not None and hit[0] == version:
            return hit[1]
        p = self.projects.get(project)
        if p is None:
            return dict.fromkeys(self.flavors, 0.0)
        use = self.usage.get(project, {})
        extra = self._extra.get(project, {})  # a reserved window in force for it: guaranteed too
        out: dict[str, float] = {}
        for f in self.flavors:
            limit = p.nominal.get(f, 0) + extra.get(f, 0) + (p.borrowing_limit.get(f, 0) if kind is Pass.BORROW else 0)
            out[f] = limit - use.get(f, 0)
        self._rooms[(project, kind)] = (version, out)
        return out


    def _none_within(self, project: int, room: Mapping[str, float]) -> bool:
        """No waiting job of ``project`` asks for as little as its headroom on any flavor it accepts."""
        demand = self.demand.by_project.get(project, {})
        return all(not units or min(units) > room[f] for f, units in demand.items())


    def _quota_reason(self, job: PendingJob, order: list[str]) -> Reason:
        p = self.projects.get(job.project)
        if p is None:
            return reasons.suspended()
        for f in order:
            nominal, limit = p.nominal.get(f, 0), p.borrowing_limit.get(f, 0)
            if nominal or limit:
                return reasons.quota(f, nominal, limit)
        return reasons.no_quota(tuple(order))

    def _nominal_reason(self, job: PendingJob) -> Reason:
        """For a job that may not borrow: the nominal quota it waits for, borrowing limit aside."""
        p = self.projects.get(job.project)
        if p is None:
            return reasons.suspended()
        for f in self._flavor_order(job):
            if p.nominal.get(f, 0):
                return reasons.quota(f, p.nominal[f], 0)
        return reasons.no_quota(tuple(self._flavor_order(job)))

    def _eligible(self, job: PendingJob, now: float) -> Reason | None:
        p = self.projects.get(job.project)
        if p is None or not p.active:
            return reasons.suspended()
        if now < p.window_start:
            return reasons.window_not_started(p.window_start)
        if now >= p.window_end:
            return reasons.window_ended()
        return None

