"""Small builders for scheduling scenarios."""

from __future__ import annotations

from aicc.core.scheduling import (
    POLICIES,
    FlavorInfo,
    NodeInfo,
    PendingJob,
    PolicyConfig,
    ProjectState,
    Scheduler,
)

H100 = FlavorInfo("h100", 2.0)
A100 = FlavorInfo("a100", 1.0)
CPU = FlavorInfo("cpu", 0.02, cpu=True)


def center(h100_nodes: int = 2, per_node: int = 4, a100_nodes: int = 0, policy: str | PolicyConfig = "aicc",
           throughput: dict[str, dict[str, float]] | None = None) -> Scheduler:
    nodes = [NodeInfo(f"h{i}", "h100", per_node, 64, 512_000) for i in range(h100_nodes)]
    nodes += [NodeInfo(f"a{i}", "a100", per_node, 64, 512_000) for i in range(a100_nodes)]
    nodes.append(NodeInfo("c0", "cpu", 0, 32, 128_000))
    config = POLICIES[policy] if isinstance(policy, str) else policy
    return Scheduler([H100, A100, CPU], nodes, config, throughput)


def project(s: Scheduler, pid: int, *, h100: int = 4, borrow: int = 4, a100: int = 0, weight: float = 1.0,
            budget: float = 1e9, **kw: object) -> ProjectState:
    p = ProjectState(pid, weight=weight, nominal={"h100": h100, "a100": a100, "cpu": 32},
                     borrowing_limit={"h100": borrow, "a100": borrow, "cpu": 0}, budget_left=budget,
                     allocation_id=pid * 10, **kw)  # type: ignore[arg-type]
    s.set_project(p)
    return p


def job(jid: int, pid: int, gpus: int = 1, *, t: float = 0.0, limit: float = 3600, prio: int = 0,
        flavors: tuple[str, ...] = ("h100",), cls: str | None = None) -> PendingJob:
    return PendingJob(jid, pid, flavors, gpus, 1, 1000, limit, prio, t, cls)
