"""The admission policy's entry point: one :class:`Scheduler`, kept between cycles and changed by deltas.

The controller and the simulator hold one, tell it what changed (a submit, a finish, a node going down) and
call :meth:`~aicc.core.scheduling.cycle.Cycling.cycle`. A cycle walks the queue in policy order and stops as
soon as nothing more can start, so its cost follows what can be admitted, not the length of the queue: with
the center full, a cycle over 100,000 pending jobs examines a handful.

Policy, as in DESIGN.md: drop what cannot run (allocation window, suspension, budget for the time limit);
order projects by weighted dominant share; admit a gang whole on one flavor, within nominal quota first,
then by borrowing idle capacity up to the limit; reserve for the first job that does not fit (EASY
backfill); a job within its nominal quota may preempt borrowed capacity.

The concepts live in their own modules, each a layer of the class: ``state`` (cluster state), ``quota``
(headroom per pass), ``queues`` (order), ``reservation`` (backfill and early stops), ``preemption`` and
``cycle``. This module holds the deltas, the public API the controller and the simulator call.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from aicc.core.scheduling.cycle import Cycling
from aicc.core.scheduling.demand import Plan
from aicc.core.scheduling.model import Order, PendingJob, ProjectState, RunningJob
from aicc.core.scheduling.state import queue_key
from aicc.core.scheduling.windows import Windows


class Scheduler(Cycling):
    def set_project(self, project: ProjectState) -> None:
        self.projects[project.id] = project
        self.usage.setdefault(project.id, {})
        self._touch(project.id)

    def set_windows(self, windows: Windows) -> None:
        """The reserved windows changed (a reservation made, changed or removed): the next cycle reads them."""
        if windows == self.windows:
            return
        self.windows = windows
        self._active = ()  # re-derived (and its members' quota headroom with it) at the next cycle
        for project in list(self._extra):
            self._touch(project)
        self._extra = {}

    def remove_project(self, project_id: int) -> None:
        """The project has no allocation to charge any more (it ended): its jobs wait as for an unknown project."""
        if self.projects.pop(project_id, None) is not None:
            self._touch(project_id)

    def mark_preempting(self, job_id: int) -> None:
        """A running job already asked to stop for a preemption (a restarted or long-lived controller's view):
        its capacity is coming back and it is no candidate for another preemption."""
        self._changes += 1
        self.preempting.add(job_id)
        self._borrowing.discard(job_id)
        self._victim_cache.clear()

    def submit(self, job: PendingJob) -> None:
        plan = self._plan_of(job)
        self.demand.add(job, plan, self.pending)
        self._enqueue(job, plan)

    def submit_many(self, jobs: Iterable[PendingJob]) -> None:
        """As :meth:`submit` for each, in order, with each queue sorted and each heap built once at the end
        (a controller's rebuild: 100,000 jobs; the same queues, so the same decisions)."""
        items = [(job, self._plan_of(job)) for job in jobs]
        self.demand.add_many(items, self.pending)
        self._enqueue_many(items)

    def _plan_of(self, job: PendingJob) -> Plan:
        """Record ``job`` as pending; its flavors in the order the policy tries them, with the units on each."""
        self.pending[job.id] = job
        shape = (job.flavors, job.workload_class, job.accelerators, job.cpus)
        plan = self._plan_cache.get(shape)
        if plan is None:
            plan = self._plan_cache[shape] = tuple((f, self._units(job, f)) for f in self._flavor_order(job))
        self._plans[job.id] = plan
        return plan

    def cancel(self, job_id: int) -> None:
        job = self.pending.pop(job_id, None)
        if job is not None:
            plan = self._plans.pop(job_id)
            self.demand.remove(job, plan)
            queue = self._queue_of(job)
            q = self._queues[queue]
            self._unqueue(queue, q, self._shapes[queue], queue_key(job, self.config.order is Order.FIFO), plan)
            self._dirty.add(job.project)
            if not q:
                del self._queues[queue], self._shapes[queue]  # only queues with jobs: a cycle's cost follows them


    def finish(self, job_id: int) -> RunningJob | None:
        job = self.running.pop(job_id, None)
        if job is None:
            return None
        self._changes += 1
        self._victim_cache.clear()
        pool = self.pools[job.flavor]
        for p in job.placements:
            pool.give_back(p)
        use = self.usage[job.project]
        use[job.flavor] -= job.units
        ends = self._ends[job.flavor]
        i = bisect.bisect_left(ends, (job.end_by, job.id))
        if i < len(ends) and ends[i][1] == job.id:
            ends.pop(i)
        self.preempting.discard(job_id)
        self._borrowing.discard(job_id)
        if job.borrowed and job.checkpoint_s:
            self._checkpointing -= 1
        self._touch(job.project)
        return job

    def requeue(self, job_id: int, original: PendingJob) -> None:
        """A preempted or lost job: release its capacity and queue it again in its original place."""
        self.finish(job_id)
        self.submit(original)

    def set_node_available(self, node: str, flavor: str, available: bool) -> None:
        self._changes += 1
        self.pools[flavor].set_available(node, available)
        self._capacity_cache = None
        self._share.clear()
        self._dirty.update(self._queues)  # every share changes with the capacity
