"""The scheduler's state between cycles: capacity per flavor, usage and shares per project, what waits and runs.

Cluster state in Kueue's terms (its cache): the pools of free capacity
(:mod:`~aicc.core.scheduling.capacity`), the running jobs and the order their time limits end in, each
project's usage and dominant share, the pending jobs with their plans. The deltas that change it are the
public methods of :class:`~aicc.core.scheduling.scheduler.Scheduler`; the modules between this one and it
read it: ``quota`` (headroom), ``queues`` (order), ``reservation`` (backfill), ``preemption`` and ``cycle``.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Mapping

from aicc.core.charging import su
from aicc.core.scheduling.capacity import FlavorPool
from aicc.core.scheduling.demand import Demand, Plan
from aicc.core.scheduling.fairshare import dominant_share
from aicc.core.scheduling.model import (
    FlavorChoice,
    FlavorInfo,
    NodeInfo,
    Order,
    Pass,
    PendingJob,
    PolicyConfig,
    ProjectState,
    RunningJob,
)
from aicc.core.scheduling.windows import Past, Window, Windows

Key = tuple[int, float, int]
"""A pending job's place in its queue: (-priority or 0 under FIFO, submit time, id)."""


def queue_key(job: PendingJob, fifo: bool) -> Key:
    return (0, job.submit_time, job.id) if fifo else (-job.priority, job.submit_time, job.id)


class SchedulerState:
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
        self._queues: dict[int, list[Key]] = {}  # per project (fair share) or one queue under key 0 (FIFO)
        self._shapes: dict[int, dict[Plan, list[Key]]] = {}
        """The same queues split by plan (what a job asks of each flavor), so a walk can pass over every job of
        a shape that cannot be placed now in one step."""
        self._plan_queues: dict[Plan, set[int]] = {}
        """Per plan: the queues holding jobs of it (which projects a walk over placeable shapes must visit)."""
        self._within: set[int] = set()
        """Projects with a waiting job within their nominal headroom: the only ones the guaranteed pass can admit
        from."""
        self._entries: dict[int, tuple[float, Key, int]] = {}
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
        """Per (project, pass): its quota headroom per flavor, valid while its usage version is unchanged."""
        self._borrowing: set[int] = set()  # running on borrowed capacity, not being preempted
        self._capacity_cache: dict[str, int] | None = None
        self._blocked_last: dict[int, int] = {}
        self._head_last: dict[int, int] = {}
        self._smallest: dict[str, int] = {}
        self._wide: dict[str, int] = {}
        self._spare: dict[str, int] = {}
        """The current walk's reservation: per reserved node, what a job outlasting its start may still take."""
        self._borrow_starts: list[tuple[float, int]] = []  # heap over _borrowing, cleaned lazily
        self.demand = Demand(self.flavors)
        """What the waiting jobs ask for (the early stops read it)."""
        self._plans: dict[int, tuple[tuple[str, int], ...]] = {}
        """Per pending job: (flavor, units) in the order the policy tries them, computed once at submit."""
        self._plan_cache: dict[tuple[object, ...], tuple[tuple[str, int], ...]] = {}
        self._victim_cache: dict[str, tuple[list[RunningJob], int, int]] = {}
        self._changes = 0
        """Bumped when running or preempting jobs change: keys :attr:`_no_victims`."""
        self._no_victims: set[tuple[object, ...]] = set()
        """Searches for victims that found none this cycle, by (changes, project, flavor, units, uncapped): a
        long queue of one shape within its quota costs one search, not one per job."""
        self._earliest_memo: dict[tuple[str, int, float, int, float],
                                  tuple[float, dict[str, int], dict[str, int]] | None] = {}
        """Backfill's earliest start per (flavor, units, now, changes, not before): emptied every cycle."""
        self._min_loss: dict[str, tuple[list[RunningJob], float]] = {}
        """Per flavor: the candidates list it was computed for, and the least work per unit one of them loses."""
        self._checkpointing = 0
        """Running borrowed jobs that checkpoint: with none, every candidate victim loses at least its exemption."""
        self._refused: dict[tuple[int, str, int], tuple[float, float, float]] = {}
        """Preemptions refused this cycle as costing more than they gain, by (project, flavor, units): (the
        victims' lost unit-seconds, the waiting job's gain, when its shape frees by itself), for its reason."""
        self.windows = Windows()
        """Reserved windows (class hours), :mod:`~aicc.core.scheduling.windows`."""
        self._active: tuple[Window, ...] = ()
        self._extra: dict[int, dict[str, int]] = {}
        """Per member project: the guaranteed units its windows in force add, per flavor."""
        self._past: Past | None = None
        """This cycle's look ahead at window starts (made on first need, dropped at the next cycle)."""


    def _touch(self, project: int) -> None:
        self._version[project] = self._version.get(project, 0) + 1
        self._share.pop(project, None)
        self._dirty.add(project)


    def _queue_of(self, job: PendingJob) -> int:
        return 0 if self.config.order is Order.FIFO else job.project

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
        if self.config.placement is FlavorChoice.THROUGHPUT and job.workload_class in self.throughput:
            speed = self.throughput[job.workload_class or ""]
            names.sort(key=lambda f: -speed.get(f, 0.0) / max(self.flavors[f].su_rate, 1e-9))
        else:
            names.sort(key=lambda f: self.flavors[f].su_rate)
        self._order_cache[key] = names
        return names

    def _units(self, job: PendingJob, flavor: str) -> int:
        return job.cpus if self.flavors[flavor].cpu else job.accelerators

    def _cost(self, job: PendingJob, flavor: str) -> float:
        return su(self._units(job, flavor), job.time_limit_s, self.flavors[flavor].su_rate)

    def add_running(self, job: RunningJob) -> None:
        """A job already running (controller restart, or an admission the caller applied)."""
        self.running[job.id] = job
        self._changes += 1
        if job.borrowed and self._victim_cache:  # only a borrowed job can be a preemption candidate
            self._victim_cache.clear()
        pool = self.pools[job.flavor]
        for p in job.placements:
            pool.take(p.node, p.devices, p.cpus, p.memory_mb)
        project = job.project
        use = self.usage.setdefault(project, {})
        use[job.flavor] = use.get(job.flavor, 0) + job.units
        bisect.insort(self._ends[job.flavor], (job.end_by, job.id))
        if job.borrowed and job.checkpoint_s:
            self._checkpointing += 1
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
        for key in ((project, Pass.GUARANTEED), (project, Pass.BORROW)):  # the quota headroom, kept current
            hit = rooms.get(key)
            if hit is not None and hit[0] == old:
                hit[1][job.flavor] -= job.units
                rooms[key] = (old + 1, hit[1])
