"""Small centers and traces built by hand."""

from __future__ import annotations

from aicc.core.scheduling import FlavorInfo, NodeInfo
from aicc.sim.center import ProjectSpec, SimCenter
from aicc.sim.trace import SimJob, Trace


def center(*shape: tuple[str, int, int], projects: dict[str, ProjectSpec] | None = None) -> SimCenter:
    """``shape``: (flavor, nodes, accelerators per node) triples."""
    nodes = [NodeInfo(f"{f}-{k}", f, per, 16, 64_000) for f, count, per in shape for k in range(count)]
    flavors = tuple(dict.fromkeys(FlavorInfo(f, 1.0) for f, _, _ in shape))
    return SimCenter("test", flavors, tuple(nodes), projects or {})


def job(i: int, submit: float, gpus: int, project: str = "p", **durations: float) -> SimJob:
    return SimJob(i, project, submit, gpus, durations or {"gpu": 100.0})


def trace(*jobs: SimJob, throughput: dict[str, dict[str, float]] | None = None) -> Trace:
    return Trace(sorted(jobs, key=lambda j: (j.submit, j.id)), throughput=throughput or {})
