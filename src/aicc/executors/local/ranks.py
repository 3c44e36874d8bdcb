"""Multi-node runs on the local engine: one isolated process per task of the placement, all on this machine.

Every placed "node" is this machine, so each task is a run of its own through the runner (its own cgroups with
its share of the job's CPUs and memory, its node's devices only, the project's uid, bubblewrap) and the
shepherd watches them together (``shepherd.run_tasks``): all or nothing. The rendezvous is on the loopback
interface, on a port free when the run starts. With ``--mpi`` the job is one ``mpirun`` instead, with a
hostfile AICC writes, and Open MPI starts the ranks inside the job's sandbox.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aicc.executors import tasks as _tasks
from aicc.executors.base import Launch, Placement
from aicc.runner.launch import IsolationUnavailable
from aicc.runner.spec import RunSpec

MASTER_ADDR = "127.0.0.1"
MPI_ENV = {
    # Every "node" is one machine and each task has its own /tmp: no shared-memory transport between them, and
    # no cross-memory attach inside a PID namespace.
    "OMPI_MCA_btl": "self,tcp", "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
    "OMPI_MCA_plm_rsh_agent": "", "OMPI_MCA_rmaps_base_oversubscribe": "1",
}
SpecFor = Callable[[Launch, dict[str, str]], "RunSpec | None"]


def free_port(host: str = MASTER_ADDR) -> int:
    """A TCP port nobody listens on now (the kernel's choice); rank 0 binds it a moment later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def mpirun_path() -> str:
    path = shutil.which("mpirun")
    if path is None:
        raise IsolationUnavailable("--mpi: this site has no MPI launcher (mpirun is not installed; "
                                   "scripts/install-mpi installs Open MPI)")
    return path


def hostfile_path(launch: Launch) -> Path:
    return launch.workdir / f"mpi-hostfile-{launch.attempt}"


def task_specs(launch: Launch, env: dict[str, str], spec_for: SpecFor) -> list[dict[str, Any]]:
    """Per task: its rank, argv, environment and run spec (None only where a benchmark runs bare)."""
    from aicc.executors.local.isolation import write_new

    port = free_port()
    if launch.mpi:
        mpirun = mpirun_path()
        nodes = [p.node for p in launch.placements] or ["local"]
        world = len(nodes) * launch.tasks_per_node
        write_new(hostfile_path(launch), f"# AICC job {launch.job_id}: nodes {','.join(nodes)}, all on this machine\n"
                                         f"localhost slots={world}\n")
        argv = [mpirun, "--hostfile", str(hostfile_path(launch)), "-np", str(world), "--tag-output",
                *launch.argv]
        first = _tasks.Task(0, 0, 0, nodes[0], tuple(d for p in launch.placements for d in p.devices))
        task_env = {**env, **_tasks.task_env(first, launch, master_addr=MASTER_ADDR, master_port=port), **MPI_ENV}
        for name in ("RANK", "LOCAL_RANK", "NODE_RANK", "AICC_NODE_RANK", "AICC_TASK_RANK", "PET_NODE_RANK"):
            task_env.pop(name)  # Open MPI numbers the ranks (OMPI_COMM_WORLD_RANK)
        run = spec_for(dataclasses.replace(launch, argv=argv), task_env)
        return [{"rank": 0, "argv": argv, "env": task_env, "run": run.to_json() if run else None, "mpi": True}]
    cpus, memory_mb = _tasks.task_share(launch)
    layout = _tasks.layout(launch.placements or [Placement("local")], launch.tasks_per_node)
    n_tasks = len(layout)
    out = []
    for task in layout:
        one = dataclasses.replace(launch, placements=[Placement(task.node, task.devices)], cpus=cpus,
                                  memory_mb=memory_mb)
        task_env = {**env, **_tasks.task_env(task, launch, master_addr=MASTER_ADDR, master_port=port),
                    "OMP_NUM_THREADS": str(cpus)}
        run = spec_for(one, task_env)
        private = run is not None and not run.network and run.profile.network_allowed
        if run is not None:
            # a project without network still needs its ranks to meet: they share one network namespace of the
            # job's own, loopback only (the shepherd makes it), instead of one each. CPU: an exact share of the
            # job's cores as each rank's quota (2 cores over 4 ranks: half a core each), never more in all.
            share = max(0.01, launch.cpus / n_tasks)
            run = dataclasses.replace(run, name=f"{run.name}-r{task.rank}", network=run.network or private,
                                      limits=dataclasses.replace(run.limits, cpus=share))
        out.append({"rank": task.rank, "argv": list(launch.argv), "env": task_env,
                    "run": run.to_json() if run else None, "job_netns": private})
    return out
