"""The queues and their order: per project under fair share (one for the center under FIFO), walked in policy order.

A walk visits projects by weighted dominant share (re-read after each admission), and skips whole a project
with no headroom, so a cycle's cost follows what can start, not the length of the queue. Each queue is also
split by shape (plan), so a walk can pass over every job of a shape that has no hole now in one step.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Iterator, Mapping

from aicc.core.scheduling.demand import Plan
from aicc.core.scheduling.model import Order, Pass, PendingJob
from aicc.core.scheduling.quota import QuotaState
from aicc.core.scheduling.state import Key, queue_key


class Queues(QuotaState):
    def _enqueue(self, job: PendingJob, plan: Plan) -> None:
        """Into its queue (one per project, or one for the center under FIFO) and its shape's queue."""
        queue, key = self._queue_of(job), queue_key(job, self.config.order is Order.FIFO)
        bisect.insort(self._queues.setdefault(queue, []), key)
        shapes = self._shapes.setdefault(queue, {})
        keys = shapes.get(plan)
        if keys is None:
            keys = shapes[plan] = []
            self._plan_queues.setdefault(plan, set()).add(queue)
        bisect.insort(keys, key)
        self._dirty.add(job.project)

    def _enqueue_many(self, items: list[tuple[PendingJob, Plan]]) -> None:
        """As :meth:`_enqueue` for each, in order, each list sorted once at the end: the keys are unique (they
        end with the job id), so the lists are the ones one insertion at a time would have made."""
        fifo = self.config.order is Order.FIFO
        touched: dict[int, list[Key]] = {}
        for job, plan in items:
            queue, key = self._queue_of(job), queue_key(job, fifo)
            q = self._queues.setdefault(queue, [])
            q.append(key)
            touched[id(q)] = q
            shapes = self._shapes.setdefault(queue, {})
            keys = shapes.get(plan)
            if keys is None:
                keys = shapes[plan] = []
                self._plan_queues.setdefault(plan, set()).add(queue)
            keys.append(key)
            touched[id(keys)] = keys
            self._dirty.add(job.project)
        for keys in touched.values():
            keys.sort()

    def _remove_admitted(self, admitted: set[int]) -> None:
        """As :meth:`cancel` for each (their demand is already counted out), with a queue that lost many jobs
        rebuilt once instead of job by job."""
        per_queue: dict[int, list[tuple[PendingJob, Plan]]] = {}
        pending, plans = self.pending, self._plans
        for job_id in admitted:
            per_queue.setdefault(self._queue_of(pending[job_id]), []).append((pending.pop(job_id),
                                                                                plans.pop(job_id)))
        fifo = self.config.order is Order.FIFO
        for queue, jobs in per_queue.items():
            q = self._queues[queue]
            shapes = self._shapes[queue]
            if len(jobs) > 8:
                q[:] = [k for k in q if k[2] not in admitted]
                for plan in {plan for _, plan in jobs}:
                    shapes[plan][:] = [k for k in shapes[plan] if k[2] not in admitted]
                    if not shapes[plan]:
                        del shapes[plan]
                        self._plan_queues[plan].discard(queue)
            else:
                for job, plan in jobs:
                    self._unqueue(queue, q, shapes, queue_key(job, fifo), plan)
            if not q:
                del self._queues[queue], self._shapes[queue]
        self._dirty.update(job.project for jobs in per_queue.values() for job, _ in jobs)

    def _unqueue(self, queue: int, q: list[Key], shapes: dict[Plan, list[Key]], key: Key, plan: Plan) -> None:
        for keys in (q, shapes[plan]):
            i = bisect.bisect_left(keys, key)
            if i < len(keys) and keys[i] == key:
                keys.pop(i)
        if not shapes[plan]:
            del shapes[plan]
            self._plan_queues[plan].discard(queue)


    def _order(self, kind: Pass, capacity: Mapping[str, int], skipped: dict[int, int],
               settle: Callable[[int, list[Key], int, dict[str, float]], bool] | None = None,
               focus: Callable[[], bool] | None = None,
               ) -> Iterator[tuple[int, dict[str, float]]]:
        """Pending jobs in policy order with their project's room; fair-share order is re-read after admissions.

        A project with no room on any flavor is skipped whole (its head job id lands in ``skipped``):
        that is what keeps a cycle over a long queue short. While ``focus()`` says so, a project's jobs that
        cannot be placed now (no hole for their shape on any flavor) are passed over unseen.
        """
        if self.config.order is Order.FIFO:
            room = dict.fromkeys(self.flavors, float("inf"))
            for key in self._queues.get(0, []):
                yield key[2], room
            return
        share = self.share
        entries = self._refresh()
        if kind is Pass.GUARANTEED and not self.explain and not self.config.max_examined:
            # only projects that can admit within their nominal quota; the others would be passed over (their
            # heads named in ``skipped``, which only reasons read)
            heap = [entries[p] for p in self._within]
        else:
            heap = list(entries.values())
        heapq.heapify(heap)
        pos: dict[int, int] = {}
        version = self._version
        focused = False
        while heap:
            if not focused and focus is not None and focus():
                focused = True  # from now on, projects with no job that could be placed are not visited
                live = self._placeable_queues()
                heap = [e for e in heap if e[2] in live]
                heapq.heapify(heap)
                if not heap:
                    break
            _, _, project = heapq.heappop(heap)
            q = self._queues[project]
            i, n = pos.get(project, 0), len(q)
            while True:  # once per visit; again at once when the project is still first after an admission
                room = self._room(project, kind)
                if not room or max(room.values()) <= 0:
                    if i < n:
                        skipped.setdefault(project, q[i][2])
                    break
                if kind is Pass.GUARANTEED and i == 0 and not self.config.max_examined and \
                        self._none_within(project, room):
                    break  # each of its jobs would be passed over without a word: leave them unvisited
                if kind is Pass.BORROW and not self.config.max_examined and self._none_within(project, room):
                    # room left only on flavors its jobs do not ask for (or too little for any of them): none
                    # can be admitted this pass, so skip it whole as a project with no room, its head explained
                    # once; walking a 100,000-job queue to give each the same quota reason is what made a
                    # light cycle cost the length of another project's queue
                    if i < n:
                        skipped.setdefault(project, q[i][2])
                    break
                if settle is not None and settle(project, q, i, room):
                    break  # none of its jobs can start: the cycle gave each its reason in one go
                before = version.get(project, 0)
                again = False
                while i < n:
                    if focus is not None and focus():
                        nxt = self._next_placeable(project, q[i - 1] if i else None)
                        if nxt is None:
                            i = n
                            break
                        i = bisect.bisect_right(q, nxt, i)
                        job_id = nxt[2]
                    else:
                        job_id = q[i][2]
                        i += 1
                    yield job_id, room
                    if version.get(project, 0) != before:  # admitted: its share grew, re-queue the project
                        if i < n:
                            entry = (share(project, capacity), q[i], project)
                            if heap and heap[0] < entry:
                                pos[project] = i
                                heapq.heappush(heap, entry)
                            else:
                                again = True  # it would be popped next: no need to push it
                        break
                if not again:
                    break

    def _placeable(self, plan: Plan) -> bool:
        """Some flavor of ``plan`` has a hole for it now (necessary for a start; cpus and memory aside)."""
        pools = self.pools
        for f, units in plan:
            pool = pools[f]
            if units <= pool.free and (pool.fits_across(units) if units > pool.per_node_max else pool.top >= units):
                return True
        return False

    def _placeable_queues(self) -> set[int]:
        """The queues holding a job whose shape could be placed now."""
        out: set[int] = set()
        for plan, queues in self._plan_queues.items():
            if queues and self._placeable(plan):
                out |= queues
        return out

    def _refresh(self) -> dict[int, tuple[float, Key, int]]:
        """``_within`` and ``_entries`` brought up to date for the projects that changed since the last walk:
        a walk then costs what changed, not a pass over every project with waiting jobs."""
        within, entries, queues = self._within, self._entries, self._queues
        capacity = self.capacity()
        for p in self._dirty:
            q = queues.get(p)
            if not q:
                within.discard(p)
                entries.pop(p, None)
                continue
            entries[p] = (self.share(p, capacity), q[0], p)
            room = self._room(p, Pass.GUARANTEED)
            if max(room.values(), default=0) > 0 and not self._none_within(p, room):
                within.add(p)
            else:
                within.discard(p)
        self._dirty.clear()
        return entries

    def _next_placeable(self, project: int, after: Key | None) -> Key | None:
        """The first job of ``project`` after ``after`` whose shape has a hole on some flavor now.

        Capacity only shrinks during a cycle, so a job passed over here could not start later in it either."""
        best: Key | None = None
        for plan, keys in self._shapes[project].items():
            if not self._placeable(plan):
                continue
            j = 0 if after is None else bisect.bisect_right(keys, after)
            if j < len(keys) and (best is None or keys[j] < best):
                best = keys[j]
        return best

