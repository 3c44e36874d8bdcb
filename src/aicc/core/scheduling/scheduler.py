"""One scheduling cycle, over state kept between cycles and updated by deltas.

The controller and the simulator hold one :class:`Scheduler`, tell it what
changed (a submit, a finish, a node going down) and call :meth:`Scheduler.cycle`.
A cycle walks the queue in policy order and stops as soon as nothing more can
start, so its cost follows what can be admitted, not the length of the queue:
with the center full, a cycle over 100,000 pending jobs examines a handful.

Policy, as in DESIGN.md: drop what cannot run (allocation window, suspension,
budget for the time limit); order projects by weighted dominant share; admit a
gang whole on one flavor, within nominal quota first, then by borrowing idle
capacity up to the limit; reserve for the first job that does not fit (EASY
backfill); a job within its nominal quota may preempt borrowed capacity.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping

from aicc.core.scheduling import reasons
from aicc.core.scheduling.capacity import FlavorPool
from aicc.core.scheduling.demand import Demand, Plan
from aicc.core.scheduling.fairshare import dominant_share
from aicc.core.scheduling.model import (
    Admission,
    CycleResult,
    FlavorInfo,
    NodeInfo,
    PendingJob,
    PolicyConfig,
    ProjectState,
    Reservation,
    RunningJob,
)

_Key = tuple[int, float, int]
_UNSET = "unset"
_NO_USE: dict[str, int] = {}


def _key(job: PendingJob, fifo: bool) -> _Key:
    return (0, job.submit_time, job.id) if fifo else (-job.priority, job.submit_time, job.id)


class Scheduler:
    def __init__(
        self,
        flavors: Iterable[FlavorInfo],
        nodes: Iterable[NodeInfo],
        config: PolicyConfig,
        throughput: Mapping[str, Mapping[str, float]] | None = None,
        *,
        explain: bool = True,
    ) -> None:
        self.config = config
        self.explain = explain
        """False: decisions only. Jobs behind the reservation that could not start anyway are then passed over
        without a reason (and not counted as examined); the simulator, which reads no reasons, runs so."""
        self.flavors = {f.name: f for f in flavors}
        self.pools = {name: FlavorPool(f) for name, f in self.flavors.items()}
        for n in nodes:
            self.pools[n.flavor].add_node(n)
        self.throughput = throughput or {}
        self.projects: dict[int, ProjectState] = {}
        self.usage: dict[int, dict[str, int]] = {}
        self.pending: dict[int, PendingJob] = {}
        self._queues: dict[int, list[_Key]] = {}  # per project (fair share) or one queue under key 0 (FIFO)
        self._shapes: dict[int, dict[Plan, list[_Key]]] = {}
        """The same queues split by plan (what a job asks of each flavor), so a walk can pass over every job of
        a shape that cannot be placed now in one step."""
        self._plan_queues: dict[Plan, set[int]] = {}
        """Per plan: the queues holding jobs of it (which projects a walk over placeable shapes must visit)."""
        self._within: set[int] = set()
        """Projects with a waiting job within their nominal headroom: the only ones the guaranteed pass can admit
        from."""
        self._entries: dict[int, tuple[float, _Key, int]] = {}
        """Per project with waiting jobs: its entry in a walk's heap (share, first job, project)."""
        self._dirty: set[int] = set()
        """Projects whose usage or queue changed since a walk last read ``_within`` and ``_entries``."""
        self.running: dict[int, RunningJob] = {}
        self._ends: dict[str, list[tuple[float, int]]] = {f: [] for f in self.flavors}  # (end_by, job id)
        self.preempting: set[int] = set()
        self._can_preempt = False
        self._preempt_flavor = ""  # the flavor _preempt_for last chose
        self._now = 0.0
        self._order_cache: dict[tuple[tuple[str, ...], str | None], list[str]] = {}
        self._version: dict[int, int] = {}  # bumped when a project's usage changes
        self._share: dict[int, float] = {}
        self._rooms: dict[tuple[int, str], tuple[int, dict[str, float]]] = {}
        self._borrowing: set[int] = set()  # running on borrowed capacity, not being preempted
        self._capacity_cache: dict[str, int] | None = None
        self._blocked_last: dict[int, int] = {}
        self._head_last: dict[int, int] = {}
        self._smallest: dict[str, int] = {}
        self._borrow_starts: list[tuple[float, int]] = []  # heap over _borrowing, cleaned lazily
        self.demand = Demand(self.flavors)
        """What the waiting jobs ask for (the early stops read it)."""
        self._plans: dict[int, tuple[tuple[str, int], ...]] = {}
        """Per pending job: (flavor, units) in the order the policy tries them, computed once at submit."""
        self._plan_cache: dict[tuple[object, ...], tuple[tuple[str, int], ...]] = {}
        self._victim_cache: dict[str, tuple[list[RunningJob], int, int]] = {}

    # -- deltas -----------------------------------------------------------------------------------
    def set_project(self, project: ProjectState) -> None:
        self.projects[project.id] = project
        self.usage.setdefault(project.id, {})
        self._touch(project.id)

    def remove_project(self, project_id: int) -> None:
        """The project has no allocation to charge any more (it ended): its jobs wait as for an unknown project."""
        if self.projects.pop(project_id, None) is not None:
            self._touch(project_id)

    def mark_preempting(self, job_id: int) -> None:
        """A running job already asked to stop for a preemption (a restarted or long-lived controller's view):
        its capacity is coming back and it is no candidate for another preemption."""
        self.preempting.add(job_id)
        self._borrowing.discard(job_id)
        self._victim_cache.clear()

    def _touch(self, project: int) -> None:
        self._version[project] = self._version.get(project, 0) + 1
        self._share.pop(project, None)
        self._dirty.add(project)

    def submit(self, job: PendingJob) -> None:
        self.pending[job.id] = job
        shape = (job.flavors, job.workload_class, job.accelerators, job.cpus)
        plan = self._plan_cache.get(shape)
        if plan is None:
            plan = self._plan_cache[shape] = tuple((f, self._units(job, f)) for f in self._flavor_order(job))
        self._plans[job.id] = plan
        self.demand.add(job, plan, self.pending)
        queue, key = self._queue_of(job), _key(job, self.config.order == "fifo")
        bisect.insort(self._queues.setdefault(queue, []), key)
        shapes = self._shapes.setdefault(queue, {})
        keys = shapes.get(plan)
        if keys is None:
            keys = shapes[plan] = []
            self._plan_queues.setdefault(plan, set()).add(queue)
        bisect.insort(keys, key)
        self._dirty.add(job.project)

    def _remove_admitted(self, admitted: set[int]) -> None:
        """As :meth:`cancel` for each (their demand is already counted out), with a queue that lost many jobs
        rebuilt once instead of job by job."""
        per_queue: dict[int, list[tuple[PendingJob, Plan]]] = {}
        pending, plans = self.pending, self._plans
        for job_id in admitted:
            per_queue.setdefault(self._queue_of(pending[job_id]), []).append((pending.pop(job_id),
                                                                                plans.pop(job_id)))
        fifo = self.config.order == "fifo"
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
                    self._unqueue(queue, q, shapes, _key(job, fifo), plan)
            if not q:
                del self._queues[queue], self._shapes[queue]
        self._dirty.update(job.project for jobs in per_queue.values() for job, _ in jobs)

    def _unqueue(self, queue: int, q: list[_Key], shapes: dict[Plan, list[_Key]], key: _Key, plan: Plan) -> None:
        for keys in (q, shapes[plan]):
            i = bisect.bisect_left(keys, key)
            if i < len(keys) and keys[i] == key:
                keys.pop(i)
        if not shapes[plan]:
            del shapes[plan]
            self._plan_queues[plan].discard(queue)

    def cancel(self, job_id: int) -> None:
        job = self.pending.pop(job_id, None)
        if job is not None:
            plan = self._plans.pop(job_id)
            self.demand.remove(job, plan)
            queue = self._queue_of(job)
            q = self._queues[queue]
            self._unqueue(queue, q, self._shapes[queue], _key(job, self.config.order == "fifo"), plan)
            self._dirty.add(job.project)
            if not q:
                del self._queues[queue], self._shapes[queue]  # only queues with jobs: a cycle's cost follows them

    def add_running(self, job: RunningJob) -> None:
        """A job already running (controller restart, or an admission the caller applied)."""
        self.running[job.id] = job
        if job.borrowed and self._victim_cache:  # only a borrowed job can be a preemption candidate
            self._victim_cache.clear()
        pool = self.pools[job.flavor]
        for p in job.placements:
            pool.take(p.node, p.devices, p.cpus, p.memory_mb)
        project = job.project
        use = self.usage.setdefault(project, {})
        use[job.flavor] = use.get(job.flavor, 0) + job.units
        bisect.insort(self._ends[job.flavor], (job.end_by, job.id))
        if job.borrowed and job.id not in self.preempting:
            self._borrowing.add(job.id)
            heapq.heappush(self._borrow_starts, (job.start_time, job.id))
            if len(self._borrow_starts) > 4 * len(self._borrowing) + 4096:  # finished ones linger: rebuild
                self._borrow_starts = [(self.running[j].start_time, j) for j in self._borrowing]
                heapq.heapify(self._borrow_starts)
        old = self._version.get(project, 0)
        self._version[project] = old + 1  # as _touch, which it inlines
        self._share.pop(project, None)
        self._dirty.add(project)
        rooms = self._rooms
        for key in ((project, "guaranteed"), (project, "borrow")):  # the quota headroom, kept current
            hit = rooms.get(key)
            if hit is not None and hit[0] == old:
                hit[1][job.flavor] -= job.units
                rooms[key] = (old + 1, hit[1])

    def finish(self, job_id: int) -> RunningJob | None:
        job = self.running.pop(job_id, None)
        if job is None:
            return None
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
        self._touch(job.project)
        return job

    def requeue(self, job_id: int, original: PendingJob) -> None:
        """A preempted or lost job: release its capacity and queue it again in its original place."""
        self.finish(job_id)
        self.submit(original)

    def set_node_available(self, node: str, flavor: str, available: bool) -> None:
        self.pools[flavor].set_available(node, available)
        self._capacity_cache = None
        self._share.clear()
        self._dirty.update(self._queues)  # every share changes with the capacity

    # -- helpers ----------------------------------------------------------------------------------
    def _queue_of(self, job: PendingJob) -> int:
        return 0 if self.config.order == "fifo" else job.project

    def capacity(self) -> dict[str, int]:
        if self._capacity_cache is None:
            self._capacity_cache = {f: p.total for f, p in self.pools.items()}
        return self._capacity_cache


    def share(self, project: int, capacity: Mapping[str, int] | None = None) -> float:
        cached = self._share.get(project)
        if cached is None:
            p = self.projects.get(project)
            cached = dominant_share(self.usage.get(project, {}), capacity or self.capacity(), p.weight if p else 1.0)
            self._share[project] = cached
        return cached

    def _flavor_order(self, job: PendingJob) -> list[str]:
        key = (job.flavors, job.workload_class)
        cached = self._order_cache.get(key)
        if cached is not None:
            return cached
        names = [f for f in job.flavors if f in self.flavors]
        if self.config.placement == "throughput" and job.workload_class in self.throughput:
            speed = self.throughput[job.workload_class or ""]
            names.sort(key=lambda f: -speed.get(f, 0.0) / max(self.flavors[f].su_rate, 1e-9))
        else:
            names.sort(key=lambda f: self.flavors[f].su_rate)
        self._order_cache[key] = names
        return names

    def _units(self, job: PendingJob, flavor: str) -> int:
        return job.cpus if self.flavors[flavor].cpu else job.accelerators

    def _cost(self, job: PendingJob, flavor: str) -> float:
        return self._units(job, flavor) * job.time_limit_s / 3600.0 * self.flavors[flavor].su_rate

    def _room(self, project: int, kind: str) -> dict[str, float]:
        """Units the project may still take per flavor in this pass (its quota headroom)."""
        if kind == "any":
            return dict.fromkeys(self.flavors, float("inf"))
        version = self._version.get(project, 0)
        hit = self._rooms.get((project, kind))
        if hit is not None and hit[0] == version:
            return hit[1]
        p = self.projects.get(project)
        if p is None:
            return dict.fromkeys(self.flavors, 0.0)
        use = self.usage.get(project, {})
        out: dict[str, float] = {}
        for f in self.flavors:
            limit = p.nominal.get(f, 0) + (p.borrowing_limit.get(f, 0) if kind == "borrow" else 0)
            out[f] = limit - use.get(f, 0)
        self._rooms[(project, kind)] = (version, out)
        return out

    def _order(self, kind: str, capacity: Mapping[str, int], skipped: dict[int, int],
               settle: Callable[[int, list[_Key], int, dict[str, float]], bool] | None = None,
               focus: Callable[[], bool] | None = None,
               ) -> Iterator[tuple[int, dict[str, float]]]:
        """Pending jobs in policy order with their project's room; fair-share order is re-read after admissions.

        A project with no room on any flavor is skipped whole (its head job id lands in ``skipped``):
        that is what keeps a cycle over a long queue short. While ``focus()`` says so, a project's jobs that
        cannot be placed now (no hole for their shape on any flavor) are passed over unseen.
        """
        if self.config.order == "fifo":
            room = dict.fromkeys(self.flavors, float("inf"))
            for key in self._queues.get(0, []):
                yield key[2], room
            return
        share = self.share
        entries = self._refresh()
        if kind == "guaranteed" and not self.explain and not self.config.max_examined:
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
                if kind == "guaranteed" and i == 0 and not self.config.max_examined and \
                        self._none_within(project, room):
                    break  # each of its jobs would be passed over without a word: leave them unvisited
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
            if units <= pool.free and (units > pool.per_node_max or pool.top >= units):
                return True
        return False

    def _placeable_queues(self) -> set[int]:
        """The queues holding a job whose shape could be placed now."""
        out: set[int] = set()
        for plan, queues in self._plan_queues.items():
            if queues and self._placeable(plan):
                out |= queues
        return out

    def _refresh(self) -> dict[int, tuple[float, _Key, int]]:
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
            room = self._room(p, "guaranteed")
            if max(room.values(), default=0) > 0 and not self._none_within(p, room):
                within.add(p)
            else:
                within.discard(p)
        self._dirty.clear()
        return entries

    def _next_placeable(self, project: int, after: _Key | None) -> _Key | None:
        """The first job of ``project`` after ``after`` whose shape has a hole on some flavor now.

        Capacity only shrinks during a cycle, so a job passed over here could not start later in it either."""
        best: _Key | None = None
        for plan, keys in self._shapes[project].items():
            if not self._placeable(plan):
                continue
            j = 0 if after is None else bisect.bisect_right(keys, after)
            if j < len(keys) and (best is None or keys[j] < best):
                best = keys[j]
        return best

    def _none_within(self, project: int, room: Mapping[str, float]) -> bool:
        """No waiting job of ``project`` asks for as little as its headroom on any flavor it accepts."""
        demand = self.demand.by_project.get(project, {})
        return all(not units or min(units) > room[f] for f, units in demand.items())

    # -- the cycle --------------------------------------------------------------------------------
    def cycle(self, now: float) -> CycleResult:
        """Admit what fits; the admissions are applied to this state as running jobs."""
        res = CycleResult(idle_reason=reasons.IDLE)
        cfg = self.config
        self._now = now
        capacity = self.capacity()
        budget: dict[int, float] = {}  # SU left per project this cycle, read when its first job is examined
        blocked_shapes: set[tuple[object, ...]] = set()
        reservation: Reservation | None = None
        r_flavor, r_start = "", 0.0  # the reservation's flavor and start, once there is one
        extra = 0  # units on the reserved flavor the reserved job will not need at its start
        fifo_blocked: int | None = None
        behind: str | None = None  # the one "behind" text of this cycle (the reservation or the FIFO head)
        passes = ("guaranteed", "borrow") if cfg.quotas else ("any",)
        admitted: set[int] = set()
        settled: set[int] = set()  # decided for this cycle (waiting on its own preemptions)
        held: dict[str, int] = {}  # free units a preempting job keeps for itself until its victims are gone
        skipped: dict[int, int] = {}
        self._victim_cache.clear()  # the exemption depends on now; and the controller edits ``preempting``
        self._can_preempt = self._preemptable()
        # the smallest waiting gang per flavor; constant during the cycle (queues change only at its end)
        self._smallest = {f: min(d) for f, d in self.demand.by_flavor.items() if d}
        exhausted = False
        eligible: dict[int, str | None] = {}  # per project: the window/suspension verdict, once per cycle
        pending, plans = self.pending, self._plans
        per_s = {f: fl.su_rate / 3600.0 for f, fl in self.flavors.items()}
        rate = {f: fl.su_rate for f, fl in self.flavors.items()}
        pools = self.pools
        quotas, use_of = cfg.quotas, self.usage.get

        def settle(project: int, q: list[_Key], i: int, room: dict[str, float]) -> bool:
            """Behind the reservation in the borrowing pass, a project none of whose waiting jobs could be
            placed: give its jobs the reasons the walk would, without trying to place each."""
            nonlocal behind
            if exhausted or reservation is None or cfg.max_examined or \
                    not self._none_placeable(project, room, reservation, extra):
                return False
            if not self.explain:
                return True
            why = eligible.get(project, _UNSET)
            for key in q[i:]:
                job_id = key[2]
                if job_id in admitted or job_id in settled or job_id not in pending:
                    continue
                res.examined += 1
                job = pending[job_id]
                if why is _UNSET:
                    why = eligible[project] = self._eligible(job, now)
                if why:
                    res.reasons[job_id] = why
                    continue
                fits = [f for f, units in plans[job_id] if units <= room[f]]
                if not fits:
                    res.reasons[job_id] = self._quota_reason(job, self._flavor_order(job))
                    continue
                left = budget.get(project)
                if left is None:
                    left = budget[project] = self.projects[project].budget_left
                if left != float("inf"):
                    cheapest = min(fits, key=lambda f: self._cost(job, f))
                    if self._cost(job, cheapest) > left:
                        res.reasons[job_id] = reasons.budget(job.time_limit_s / 3600, self._cost(job, cheapest),
                                                             left)
                        continue
                if behind is None:
                    behind = reasons.behind_reservation(reservation.job_id)
                res.reasons[job_id] = behind
            return True

        def focused() -> bool:
            """A reservation stands and the walk goes on: from here only jobs that could start matter."""
            return reservation is not None and not exhausted

        for kind in passes:
            if res.capped:
                break
            exhausted = self._exhausted(kind, reservation, extra)
            walk = settle if kind == "borrow" else None
            focus = focused if kind == "borrow" and not self.explain and not cfg.max_examined else None
            for job_id, room in self._order(kind, capacity, skipped, walk, focus):
                if exhausted or (cfg.max_examined and res.examined >= cfg.max_examined):
                    break
                if cfg.max_starts and len(admitted) >= cfg.max_starts:
                    res.capped = True
                    break
                if job_id in admitted or job_id in settled or job_id not in pending:
                    continue
                res.examined += 1
                job = pending[job_id]
                if fifo_blocked is not None and not cfg.backfill:
                    if behind is None:
                        behind = reasons.behind_fifo(fifo_blocked)
                    res.reasons[job_id] = behind
                    continue
                why = eligible.get(job.project, _UNSET)
                if why is _UNSET:
                    why = eligible[job.project] = self._eligible(job, now)
                if why:
                    res.reasons[job_id] = why
                    continue
                plan = plans[job_id]
                fits = plan if kind == "any" else [fu for fu in plan if fu[1] <= room[fu[0]]]
                if not fits:
                    if kind != "guaranteed":
                        res.reasons[job_id] = self._quota_reason(job, self._flavor_order(job))
                    continue
                where = None
                project = job.project
                left = budget.get(project)
                if left is None:
                    left = budget[project] = self.projects[project].budget_left
                limit, cpus, memory = job.time_limit_s, job.cpus, job.memory_mb
                for flavor, units in fits:
                    pool = pools[flavor]
                    if units > pool.free - held.get(flavor, 0) or units * limit * per_s[flavor] > left:
                        continue
                    if flavor == r_flavor and now + limit > r_start and units > extra:
                        continue
                    if blocked_shapes and (flavor, units, cpus, memory) in blocked_shapes:
                        continue
                    where = pool.place(units, cpus, memory)
                    if where is not None:
                        break
                    blocked_shapes.add((flavor, units, cpus, memory))
                if where is not None:
                    if reservation is not None and flavor == reservation.flavor and \
                            now + job.time_limit_s > reservation.start:
                        extra -= units
                    borrowed = quotas and use_of(project, _NO_USE).get(flavor, 0) + units > \
                        self.projects[project].nominal.get(flavor, 0)
                    self.add_running(RunningJob(job_id, project, flavor, where, now, limit, job.priority, borrowed,
                                                units))
                    res.admissions.append(Admission(job_id, flavor, where, borrowed,
                                                    self.projects[project].allocation_id))
                    budget[project] -= units * limit / 3600.0 * rate[flavor]
                    admitted.add(job_id)
                    # out of the demand at once, so the early stops see only what still waits (it leaves the
                    # queues at the end of the cycle: the order generator walks them)
                    self.demand.remove(job, plan)
                    smallest = self._smallest[flavor]
                    if reservation is None and pool.free > 0 and (
                            pool.top >= smallest if smallest <= pool.per_node_max else pool.free >= smallest):
                        exhausted = False  # the flavor it took still has a hole: what _exhausted would say
                    else:
                        exhausted = self._exhausted(kind, reservation, extra)
                    continue
                # it does not fit now
                flavors = [f for f, _ in fits]
                if left != float("inf"):
                    cheapest = min(flavors, key=lambda f: self._cost(job, f))
                    if self._cost(job, cheapest) > left:
                        hours = job.time_limit_s / 3600
                        res.reasons[job_id] = reasons.budget(hours, self._cost(job, cheapest), left)
                        continue
                if kind == "guaranteed" and (self._can_preempt or self._coming(flavors)):
                    victims = self._preempt_for(job, flavors)
                    if victims is not None:
                        settled.add(job_id)
                        # keep the free part of its gang: a later, smaller job must not take it meanwhile
                        # (it would be preempted next, and capacity would change hands back and forth)
                        flavor = self._preempt_flavor
                        held[flavor] = min(pools[flavor].free, held.get(flavor, 0) + self._units(job, flavor))
                        res.preemptions.extend(victims)
                        res.reasons[job_id] = reasons.preempting(victims) if victims else \
                            reasons.preemption_in_progress()
                        exhausted = self._exhausted(kind, reservation, extra)
                        continue
                if reservation is None and fifo_blocked is None:
                    if cfg.backfill:
                        reservation, extra = self._reserve(job, flavors, now)
                        res.reservation = reservation
                        if reservation is not None:
                            r_flavor, r_start = reservation.flavor, reservation.start
                            res.reasons[job_id] = reasons.reserved(reservation.flavor, reservation.start)
                            exhausted = self._nothing_fits(kind, reservation, extra)
                            continue
                    else:
                        fifo_blocked = job_id
                    res.reasons[job_id] = reasons.capacity(tuple(flavors), self._units(job, flavors[0]),
                                                           self.flavors[flavors[0]].cpu)
                elif reservation is not None:
                    if behind is None:
                        behind = reasons.behind_reservation(reservation.job_id)
                    res.reasons[job_id] = behind
                else:
                    res.reasons[job_id] = reasons.capacity(tuple(flavors), self._units(job, flavors[0]),
                                                           self.flavors[flavors[0]].cpu)
        if exhausted and self.explain:
            self._explain_heads(res, skipped)
        for project, head in skipped.items():
            # a project skipped whole: explain it once, when it becomes blocked (reasons are cheap to keep)
            if self._blocked_last.get(project) != head and head in self.pending and head not in res.reasons:
                res.reasons[head] = self._quota_reason(self.pending[head], self._flavor_order(self.pending[head]))
                res.blocked_projects[project] = res.reasons[head]
        self._blocked_last = skipped
        for job_id in admitted:
            res.reasons.pop(job_id, None)
        self._remove_admitted(admitted)  # out of the queues only now: the order generator walks them in the cycle
        return res

    def _explain_heads(self, res: CycleResult, skipped: dict[int, int]) -> None:
        """The walk stopped early (nothing can start): still tell each project's first waiting job why,
        once, when that job changes: its quota if the project has no room for it, else capacity."""
        for project, q in self._queues.items():
            if not q or project in skipped:
                continue
            head = q[0][2]
            if head in res.reasons or self._head_last.get(project) == head or head not in self.pending:
                continue
            self._head_last[project] = head
            job = self.pending[head]
            order = self._flavor_order(job)
            room = self._room(project, "borrow" if self.config.quotas else "any")
            if all((job.cpus if self.flavors[f].cpu else job.accelerators) > room[f] for f in order):
                res.reasons[head] = self._quota_reason(job, order)
            elif order:
                f = order[0]
                res.reasons[head] = reasons.capacity(tuple(order), self._units(job, f), self.flavors[f].cpu)

    def _quota_reason(self, job: PendingJob, order: list[str]) -> str:
        p = self.projects.get(job.project)
        if p is None:
            return reasons.suspended()
        for f in order:
            nominal, limit = p.nominal.get(f, 0), p.borrowing_limit.get(f, 0)
            if nominal or limit:
                return reasons.quota(f, nominal, limit)
        return reasons.no_quota(tuple(order))

    def _preemptable(self) -> bool:
        """Some borrowed job could be preempted now (it is past its exemption)."""
        if not (self.config.preemption and self.config.quotas and self._borrowing):
            return False
        heap = self._borrow_starts
        while heap and heap[0][1] not in self._borrowing:
            heapq.heappop(heap)  # finished or already being preempted
        return bool(heap) and heap[0][0] <= self._now - self.config.preempt_after_s

    def _exhausted(self, kind: str, reservation: Reservation | None = None, extra: int = 0) -> bool:
        """Nothing more can start in this pass: no flavor has a hole for its smallest waiting gang, and
        preemption cannot help. This is what ends a cycle early when the queue is long.

        The smallest-gang test is the policy's historic early stop, kept as it is so that a performance
        change does not move a decision; it is not exact (a gang larger than any node may still fit across
        partly free nodes). :meth:`_nothing_fits` adds the reservation: it is exact, so it only ends sooner
        a walk that would admit nothing more."""
        if kind == "guaranteed" and self._can_preempt:
            return False
        for f, pool in self.pools.items():
            smallest = self._smallest.get(f)
            if pool.free > 0 and smallest is not None and self._hole(pool, smallest):
                break
        else:
            return True
        return reservation is not None and self._nothing_fits(kind, reservation, extra)

    def _none_placeable(self, project: int, room: Mapping[str, float], reservation: Reservation,
                        extra: int) -> bool:
        """No waiting job of ``project`` could be placed now within ``room``: as :meth:`_nothing_fits`, for one
        project's jobs (cpus, memory and budget ignored, so it errs towards trying)."""
        for f, demand in self.demand.by_project.get(project, {}).items():
            pool = self.pools[f]
            if not demand or pool.free <= 0:
                continue
            reserved = f == reservation.flavor
            for units in sorted(demand):
                if units > pool.free or units > room[f]:
                    break
                if not self._hole(pool, units):
                    continue
                if not reserved or units <= extra or \
                        self._now + self.demand.shortest_limit(f, units, self.pending) <= reservation.start:
                    return False
        return True

    def _nothing_fits(self, kind: str, reservation: Reservation, extra: int) -> bool:
        """No pending job could start on any flavor, given the reservation: a gang on the reserved flavor
        must end before it starts or take no more than the ``extra`` units the reserved job leaves free.

        Conservative over all pending jobs (quotas, budgets, cpus and memory ignored; jobs decided in
        this cycle still counted), so it never cuts short a walk that could admit a job."""
        if kind == "guaranteed" and self._can_preempt:
            return False
        for f, pool in self.pools.items():
            if pool.free <= 0:
                continue
            reserved = f == reservation.flavor
            for units in sorted(self.demand.by_flavor[f]):
                if units > pool.free:
                    break
                if not self._hole(pool, units):
                    continue
                if not reserved or units <= extra or \
                        self._now + self.demand.shortest_limit(f, units, self.pending) <= reservation.start:
                    return False
        return True

    @staticmethod
    def _hole(pool: FlavorPool, units: int) -> bool:
        """Some node (or, for a gang larger than any node, the flavor) has ``units`` free."""
        if units > pool.per_node_max:
            return pool.free >= units
        return pool.top >= units

    def _eligible(self, job: PendingJob, now: float) -> str | None:
        p = self.projects.get(job.project)
        if p is None or not p.active:
            return reasons.suspended()
        if now < p.window_start:
            return reasons.window_not_started(p.window_start)
        if now >= p.window_end:
            return reasons.window_ended()
        return None

    def _victims(self, flavor: str) -> tuple[list[RunningJob], int, int]:
        """Borrowed jobs on ``flavor`` that may be preempted now, in the order they would be (lowest priority,
        newest first), their units, and the units already being freed there. Kept for the cycle until the
        running set or the preempting set changes."""
        hit = self._victim_cache.get(flavor)
        if hit is None:
            running, preempting = self.running, self.preempting
            coming = sum(running[v].units for v in preempting if v in running and running[v].flavor == flavor)
            now, after = self._now, self.config.preempt_after_s
            candidates = sorted(  # every borrowed job not being preempted is in _borrowing
                (j for j in map(running.__getitem__, self._borrowing)
                 if j.flavor == flavor and j.borrowed and j.id not in preempting and now - j.start_time >= after),
                key=lambda j: (j.priority, -j.start_time, -j.id),
            )
            hit = self._victim_cache[flavor] = (candidates, sum(j.units for j in candidates), coming)
        return hit

    def _coming(self, flavors: list[str]) -> bool:
        """Capacity is already being freed on one of ``flavors`` (victims in their grace period)."""
        return bool(self.preempting) and any(self._victims(f)[2] for f in flavors)

    def _preempt_for(self, job: PendingJob, flavors: list[str]) -> list[int] | None:
        """Victims that make room for ``job`` on one of ``flavors``; [] if enough is already being freed.

        None when preemption cannot help (no borrowed capacity there).
        """
        for flavor in flavors:
            units = self._units(job, flavor)
            pool = self.pools[flavor]
            candidates, total, coming = self._victims(flavor)
            self._preempt_flavor = flavor
            if pool.free + coming >= units:
                if coming:
                    return []
                continue  # fits by count but not by node shape: preemption would not help
            if pool.free + coming + total < units:
                continue  # not enough borrowed capacity there even with every candidate
            chosen: list[int] = []
            freed = pool.free + coming
            for victim in candidates:
                if victim.project == job.project:
                    continue
                chosen.append(victim.id)
                freed += victim.units
                if freed >= units:
                    self.preempting.update(chosen)
                    self._borrowing.difference_update(chosen)
                    self._victim_cache.clear()
                    self._can_preempt = self._preemptable()
                    return chosen
        return None

    def _reserve(self, job: PendingJob, flavors: list[str], now: float) -> tuple[Reservation | None, int]:
        """Earliest start for the blocked head job from running jobs' time limits (flavor-level)."""
        best: tuple[float, str, int] | None = None
        for flavor in flavors:
            units = self._units(job, flavor)
            pool = self.pools[flavor]
            if units > pool.total:
                continue
            free = pool.free
            at = now
            if free < units:
                for end_by, rid in self._ends[flavor]:
                    free += self.running[rid].units
                    at = max(end_by, now)
                    if free >= units:
                        break
                else:
                    continue
            if best is None or at < best[0]:
                best = (at, flavor, free - units)
        if best is None:
            return None, 0
        return Reservation(job.id, best[1], best[0]), best[2]
