"""What the controller exports at ``/metrics``: cycle times, the queue, admissions, waits and engine start latency.

Counters and histograms are updated as things happen; the per-project, per-flavor job counts are read from the
controller's in-memory state when Prometheus scrapes (counting a queue of 100,000 jobs at every cycle would cost
more than the cycle). A process that is not the elected controller exports no job counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CYCLE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10)
WAIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)
START_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

Counts = dict[tuple[str, str], int]
"""Jobs per (project, flavor)."""


class _JobCounts(Collector):
    def __init__(self) -> None:
        self.source: Callable[[], tuple[Counts, Counts]] | None = None

    def collect(self) -> Iterator[Metric]:
        pending = GaugeMetricFamily("aicc_jobs_pending", "Pending jobs per project and first acceptable flavor",
                                    labels=["project", "flavor"])
        running = GaugeMetricFamily("aicc_jobs_running", "Admitted or running jobs per project and flavor",
                                    labels=["project", "flavor"])
        if self.source is not None:
            waiting, live = self.source()
            for (project, flavor), n in sorted(waiting.items()):
                pending.add_metric([project, flavor], n)
            for (project, flavor), n in sorted(live.items()):
                running.add_metric([project, flavor], n)
        yield pending
        yield running


class ControllerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.cycle = Histogram("aicc_scheduling_cycle_seconds",
                               "One scheduling step (bring the state up to the database, decide, write)",
                               ["kind"], registry=self.registry, buckets=CYCLE_BUCKETS)
        self.admissions = Counter("aicc_admissions_total", "Jobs admitted by the scheduler", ["flavor"],
                                  registry=self.registry)
        self.preemptions = Counter("aicc_preemptions_total", "Running jobs asked to stop to return borrowed capacity",
                                   registry=self.registry)
        self.wait = Histogram("aicc_job_wait_seconds", "From submission to the engine accepting the start",
                              registry=self.registry, buckets=WAIT_BUCKETS)
        self.start_latency = Histogram("aicc_executor_start_seconds",
                                       "How long the engine took to accept a start (a batch counts for each job)",
                                       ["engine"], registry=self.registry, buckets=START_BUCKETS)
        self.rebuilds = Counter("aicc_scheduler_rebuilds_total",
                                "Scheduler state rebuilt from the database (start, lock regained, inventory, drift)",
                                registry=self.registry)
        self._counts = _JobCounts()
        self.registry.register(self._counts)

    def watch(self, source: Callable[[], tuple[Counts, Counts]]) -> None:
        """Where the job counts come from at scrape time (the elected controller's state)."""
        self._counts.source = source
