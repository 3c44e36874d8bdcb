"""The event loop: a virtual clock, a heap of completions and cycle ticks, the controller's Scheduler.

No sleeping, no threads. Arrivals come from the time-sorted trace, completions and cycle ticks from a
heap. After the events of one instant, a scheduling cycle runs (``cycle_interval = 0``), or cycles run
on a fixed period as a controller's loop would.

Preemption has a cost (:class:`~aicc.sim.center.PreemptionCost`): a victim keeps its accelerators through
the grace period, as it does under the controller (the policy sees them as capacity being freed), then
queues again in its original place having kept only the work up to its last checkpoint, all of the attempt
when it declares none. Lost accelerator-seconds (work thrown away and the grace period) are counted per
project. A victim whose work ends within the grace period simply finishes. With a zero grace period the
cycle that preempts is followed at once by another that admits into the freed room.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from aicc.core.scheduling import POLICIES, CycleResult, PendingJob, PolicyConfig, ProjectState, Scheduler
from aicc.core.scheduling.windows import Window, Windows
from aicc.sim.center import DEFAULT_COST, PreemptionCost, SimCenter
from aicc.sim.series import StepSeries
from aicc.sim.trace import SimJob, Trace

_FINISH, _STOP, _TICK, _WINDOW = 0, 1, 2, 3


@dataclass(slots=True)
class SimResult:
    policy: str
    jobs: list[SimJob]
    start: list[float]
    """First start per job (index = position in ``jobs``); NaN if it never ran."""
    end: list[float]
    flavor: list[str]
    """Flavor it finished on."""
    preemptions: int
    unschedulable: int
    """Jobs dropped before the replay: no acceptable flavor in the center can ever hold the gang."""
    unit_seconds: dict[str, float]
    su: dict[str, float]
    budgets: dict[str, float]
    weights: dict[str, float]
    capacity: dict[str, int]
    busy: dict[str, StepSeries]
    queue: StepSeries
    cycles: int
    events: int
    decisions: list[dict[str, Any]] = field(default_factory=list)
    runs: list[tuple[int, str, float, float]] = field(default_factory=list)
    """(job index, flavor, start, end) of every run, preempted ones included, with ``record_runs``."""
    policy_s: float = 0.0
    """Wall seconds spent inside ``Scheduler.cycle`` (the rest is the simulator's own work)."""
    lost_unit_seconds: dict[str, float] = field(default_factory=dict)
    """Per project: unit-seconds preemption threw away (work since the last checkpoint, and the grace)."""
    unschedulable_jobs: list[int] = field(default_factory=list)
    """Indices (in ``jobs``) of the jobs counted in ``unschedulable``."""
    preemption: PreemptionCost = DEFAULT_COST
    project_use: dict[str, StepSeries] = field(default_factory=dict)
    """Per project: units it holds over time (running jobs, victims in their grace period included)."""
    project_demand: dict[str, StepSeries] = field(default_factory=dict)
    """Per project: units its jobs want over time (held, or waiting to start)."""


def _policy(policy: str | PolicyConfig) -> tuple[str, PolicyConfig]:
    if isinstance(policy, PolicyConfig):
        return "custom", policy
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r} (known: {', '.join(POLICIES)})")
    return policy, POLICIES[policy]


def simulate(trace: Trace, center: SimCenter, policy: str | PolicyConfig = "aicc", *,
             cycle_interval: float = 0.0, decision_log: bool = False, record_runs: bool = False,
             on_cycle: Callable[[float, CycleResult], None] | None = None, explain: bool = False,
             preemption: PreemptionCost | None = None) -> SimResult:
    """Replay ``trace`` on ``center`` under ``policy`` and return what happened to every job.

    ``preemption``: what a victim loses (default: the center's, itself by default a 10 s grace period and
    no checkpoints).

    ``explain``: give waiting jobs their reasons in the cycle results ``on_cycle`` sees, as the controller
    does; off by default, since the replay reads only decisions (which are the same either way) and reasons
    for a long queue cost most of a cycle."""
    name, config = _policy(policy)
    cost = preemption or center.preemption
    if not cost.lossless and config.preempt_grace_s != cost.grace_s:
        config = replace(config, preempt_grace_s=cost.grace_s)  # the policy weighs the grace it will cost
    sched = Scheduler(center.flavors, center.nodes, config, trace.throughput, explain=explain)
    capacity = center.capacity()
    su_rate = {f.name: f.su_rate for f in center.flavors}
    specs = center.resolve_projects(trace.projects)
    pid = {n: i + 1 for i, n in enumerate(sorted(specs))}
    states: dict[int, ProjectState] = {}
    for n, s in specs.items():
        st = ProjectState(pid[n], s.weight, dict(s.nominal or {}), dict(s.borrowing or {}), s.budget_su,
                          allocation_id=pid[n])
        states[pid[n]] = st
        sched.set_project(st)
    heap: list[tuple[float, int, int, int]] = []
    if center.reservations:  # class hours: the policy honours them; a cycle runs as each window opens and closes
        windows = [Window(k, r.flavor, r.units, a, b, frozenset({pid[r.project]} if r.project in pid else ()), r.name)
                   for k, r in enumerate(center.reservations) for a, b in r.windows()]
        sched.set_windows(Windows(windows))
        for w in windows:
            heap += [(w.start, _WINDOW, -1, 0), (w.end, _WINDOW, -1, 0)]
        heapq.heapify(heap)
    jobs = trace.jobs
    if any(jobs[k].submit > jobs[k + 1].submit for k in range(len(jobs) - 1)):
        jobs = sorted(jobs, key=lambda j: j.submit)
    n_jobs = len(jobs)
    start = [math.nan] * n_jobs
    end = [math.nan] * n_jobs
    on = [""] * n_jobs
    left = [1.0] * n_jobs  # fraction of the work still to do
    began = [0.0] * n_jobs  # start of the current run
    epoch = [0] * n_jobs
    pending_of: dict[int, PendingJob] = {}
    unit_s: dict[str, float] = dict.fromkeys(specs, 0.0)
    su: dict[str, float] = dict.fromkeys(specs, 0.0)
    busy = {f: StepSeries() for f in capacity}
    queue = StepSeries()
    decisions: list[dict[str, Any]] = []
    preemptions = unschedulable = cycles = events = 0
    limit_of = [0.0] * n_jobs
    runs: list[tuple[int, str, float, float]] = []
    policy_s = 0.0
    lost: dict[str, float] = dict.fromkeys(specs, 0.0)
    kept = [0.0] * n_jobs  # run seconds a victim in its grace period keeps (up to its last checkpoint)
    dropped: list[int] = []
    checkpoint = [j.checkpoint_s or specs[j.project].checkpoint_s or cost.checkpoint_s for j in jobs]
    use_of = {n: StepSeries() for n in specs}
    want_of = {n: StepSeries() for n in specs}

    def held(j: SimJob, t: float, units: int, wanted: int = 0) -> None:
        """Project ``j.project`` holds ``units`` more (fewer if negative), and wants ``wanted`` more, from ``t``."""
        if units:
            series = use_of[j.project]
            series.set(t, series.value + units)
        if wanted:
            series = want_of[j.project]
            series.set(t, series.value + wanted)

    limits = {n: {f: (s.nominal or {}).get(f, 0) + (s.borrowing or {}).get(f, 0) for f in capacity}
              for n, s in specs.items()}
    for r in center.reservations:  # a member may run within its reservation beyond its quota
        if r.project in limits:
            limits[r.project][r.flavor] = limits[r.project].get(r.flavor, 0) + r.units

    def fits(j: SimJob) -> bool:
        """Whether the gang can ever start: some acceptable flavor is big enough (and within quota)."""
        return any(capacity.get(f, 0) >= j.accelerators and
                   (not config.quotas or limits[j.project].get(f, 0) >= j.accelerators) for f in j.durations)

    def charge(i: int, t: float, done: float | None = None) -> None:
        """Account the run that ends now: work done (``done`` run seconds of it; all by default), usage, SU
        (the whole run: the units were held), lost work, and the budget hold given back."""
        j = jobs[i]
        ran = t - began[i]
        f = on[i]
        if record_runs:
            runs.append((i, f, began[i], t))
        done = ran if done is None else done
        left[i] = max(0.0, left[i] - done / j.durations[f])
        unit_s[j.project] += ran * j.accelerators
        if done < ran:
            lost[j.project] += (ran - done) * j.accelerators
        spent = ran / 3600.0 * j.accelerators * su_rate[f]
        su[j.project] += spent
        st = states[pid[j.project]]
        st.budget_left += limit_of[i] / 3600.0 * j.accelerators * su_rate[f] - spent

    def stop(v: int, t: float) -> None:
        """A victim has stopped: its units are free, it waits again in its original place."""
        held(jobs[v], t, -jobs[v].accelerators)
        pj = _pending(v, jobs[v], pid, limit_of[v], checkpoint[v])
        pending_of[v] = pj
        sched.requeue(v, pj)

    def run_cycle(t: float) -> None:
        nonlocal cycles, preemptions, policy_s
        for _ in range(4):  # a preempting cycle is followed by one that admits into the freed room
            began_at = time.perf_counter()
            res = sched.cycle(t)
            policy_s += time.perf_counter() - began_at
            cycles += 1
            for a in res.admissions:
                i = a.job_id
                j = jobs[i]
                pending_of.pop(i)
                if math.isnan(start[i]):
                    start[i] = t
                on[i], began[i] = a.flavor, t
                epoch[i] += 1
                held(j, t, j.accelerators)
                st = states[pid[j.project]]
                st.budget_left -= limit_of[i] / 3600.0 * j.accelerators * su_rate[a.flavor]
                heapq.heappush(heap, (t + left[i] * j.durations[a.flavor], _FINISH, i, epoch[i]))
            stopped = False
            for v in res.preemptions:
                preemptions += 1
                if cost.lossless:
                    charge(v, t)
                    epoch[v] += 1
                    stop(v, t)
                    stopped = True
                    continue
                j = jobs[v]
                stop_at = t + cost.grace_s
                if began[v] + left[v] * j.durations[on[v]] <= stop_at:
                    continue  # it ends within its grace period: it simply finishes
                c = checkpoint[v]
                kept[v] = math.floor((t - began[v]) / c) * c if c else 0.0
                epoch[v] += 1  # its completion will not come
                if cost.grace_s > 0:
                    heapq.heappush(heap, (stop_at, _STOP, v, epoch[v]))
                else:
                    charge(v, t, kept[v])
                    stop(v, t)
                    stopped = True
            if decision_log:
                decisions.append({"t": t, "admitted": [[a.job_id, a.flavor, a.borrowed] for a in res.admissions],
                                  "preempted": list(res.preemptions),
                                  "reservation": None if res.reservation is None else
                                  [res.reservation.job_id, res.reservation.flavor, res.reservation.start]})
            if on_cycle is not None:
                on_cycle(t, res)
            if not stopped:
                break

    nxt = 0
    tick_at = math.inf
    t = 0.0
    pools = list(sched.pools.items())
    series = [busy[f] for f, _ in pools]
    while nxt < n_jobs or heap:
        t = jobs[nxt].submit if nxt < n_jobs else math.inf
        if heap and heap[0][0] <= t:
            t = heap[0][0]
        changed = False
        moved = False  # capacity changed at this instant (a finish or a cycle): the busy series need a point
        while heap and heap[0][0] <= t:
            _, kind, i, ep = heapq.heappop(heap)
            events += 1
            if kind == _TICK:
                tick_at = math.inf
                run_cycle(t)
                moved = True
                continue
            if kind == _WINDOW:  # a cycle after this instant's arrivals (a class's sessions come as it opens)
                changed = True
                continue
            if ep != epoch[i]:
                continue  # a run that was preempted
            if kind == _STOP:
                charge(i, t, kept[i])
                stop(i, t)
                changed = True
                continue
            charge(i, t)
            end[i] = t
            sched.finish(i)
            held(jobs[i], t, -jobs[i].accelerators, -jobs[i].accelerators)
            changed = True
        while nxt < n_jobs and jobs[nxt].submit <= t:
            j = jobs[nxt]
            events += 1
            if fits(j):
                limit_of[nxt] = j.time_limit if j.time_limit is not None else max(j.durations.values())
                pending_of[nxt] = _pending(nxt, j, pid, limit_of[nxt], checkpoint[nxt])
                sched.submit(pending_of[nxt])
                held(j, t, 0, j.accelerators)
                changed = True
            else:
                unschedulable += 1
                dropped.append(nxt)
            nxt += 1
        if changed:
            moved = True
            if cycle_interval <= 0:
                run_cycle(t)
            elif tick_at == math.inf:
                tick_at = math.ceil(t / cycle_interval) * cycle_interval
                heapq.heappush(heap, (tick_at, _TICK, -1, 0))
        if moved:  # the series only change value when capacity or the queue does: same sums, fewer calls
            for k, (_, pool) in enumerate(pools):
                series[k].set(t, pool.total - pool.free)
        if len(pending_of) != queue.value:
            queue.set(t, len(pending_of))
    for k, (_, pool) in enumerate(pools):  # the last instant, as every instant once set it
        series[k].set(t, pool.total - pool.free)
    queue.set(t, len(pending_of))
    for n in specs:
        use_of[n].set(t, use_of[n].value)
        want_of[n].set(t, want_of[n].value)
    return SimResult(name, jobs, start, end, on, preemptions, unschedulable, unit_s, su,
                     {n: s.budget_su for n, s in specs.items()}, {n: s.weight for n, s in specs.items()},
                     capacity, busy, queue, cycles, events, decisions, runs, policy_s, lost, dropped, cost,
                     use_of, want_of)


def _pending(i: int, j: SimJob, pid: dict[str, int], limit: float, checkpoint_s: float | None) -> PendingJob:
    """The scheduler's view of job ``i`` (its index in the trace is its id), with the checkpoint interval the
    policy weighs a preemption by."""
    return PendingJob(i, pid[j.project], j.flavors, j.accelerators, 1, 0, limit, 0, j.submit, j.workload_class,
                      checkpoint_s=checkpoint_s)
