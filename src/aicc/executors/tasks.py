"""Multi-node jobs: how a placed gang becomes tasks, and what each task is told about its peers.

A gang wider than one node used to run its command once, on its first node. Distributed programs need one
process per node (or per accelerator) started together, and a way to find each other: Slurm's ``srun`` and
PMI, PyTorch's ``torchrun`` with ``MASTER_ADDR``/``MASTER_PORT``/``WORLD_SIZE``/``NODE_RANK``. Both engines
use this module, so a task sees the same variables on the local engine and on Slurm.

Pure: no I/O. The engine supplies the master's address and port (a free port on the first node).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aicc.executors.base import Launch, Placement
from aicc.executors.discovery import selection


@dataclass(frozen=True, slots=True)
class Task:
    """One process of a multi-task run: its global rank, its node's rank, its rank on that node."""

    rank: int
    node_rank: int
    local_rank: int
    node: str
    devices: tuple[int, ...]
    """The accelerators it is given: its node's, split evenly between the node's tasks when they divide."""


def is_multi(launch: Launch) -> bool:
    """One task per node (or several per node) instead of the command run once."""
    return len(launch.placements) > 1 or launch.tasks_per_node > 1 or launch.mpi


def layout(placements: Sequence[Placement], tasks_per_node: int = 1) -> list[Task]:
    """Ranks in node order, then in task order on a node (as ``srun --distribution=block`` numbers them)."""
    if tasks_per_node < 1:
        raise ValueError("tasks per node must be at least 1")
    tasks: list[Task] = []
    for node_rank, p in enumerate(placements):
        share = _split(p.devices, tasks_per_node)
        for local in range(tasks_per_node):
            tasks.append(Task(len(tasks), node_rank, local, p.node, share[local]))
    return tasks


def _split(devices: tuple[int, ...], n: int) -> list[tuple[int, ...]]:
    """Each of ``n`` tasks an equal share of the node's accelerators; all of them to each when they do not
    divide evenly (then the program picks by ``LOCAL_RANK``, as ``torchrun`` workers do)."""
    if devices and len(devices) % n == 0:
        k = len(devices) // n
        return [devices[i * k:(i + 1) * k] for i in range(n)]
    return [devices] * n


def task_env(task: Task, launch: Launch, *, master_addr: str, master_port: int) -> dict[str, str]:
    """The variables one task gets, on top of the job's own (AICC's names and the PyTorch/torchrun ones)."""
    nodes = [p.node for p in launch.placements]
    world = len(nodes) * launch.tasks_per_node
    env = {
        "AICC_NODE_RANK": str(task.node_rank), "AICC_NUM_NODES": str(len(nodes)), "AICC_NODELIST": ",".join(nodes),
        "AICC_TASK_RANK": str(task.rank), "AICC_NUM_TASKS": str(world), "AICC_NODE": task.node,
        "MASTER_ADDR": master_addr, "MASTER_PORT": str(master_port), "WORLD_SIZE": str(world),
        "RANK": str(task.rank), "NODE_RANK": str(task.node_rank), "LOCAL_RANK": str(task.local_rank),
        "LOCAL_WORLD_SIZE": str(launch.tasks_per_node),
        # torchrun reads its own options from PET_* variables: `torchrun train.py` in a one-task-per-node
        # job joins the others with nothing on its command line.
        "PET_NNODES": str(len(nodes)), "PET_NODE_RANK": str(task.node_rank),
        "PET_MASTER_ADDR": master_addr, "PET_MASTER_PORT": str(master_port),
        "AICC_ACCELERATORS": str(len(task.devices)),
    }
    if launch.device_env:
        env[launch.device_env] = selection(launch, task.node, task.devices)
    return env


def task_share(launch: Launch) -> tuple[int, int]:
    """CPUs and memory (MB) for each task: the job's, split evenly over its tasks (at least 1 CPU, 16 MB)."""
    n = max(1, len(launch.placements)) * launch.tasks_per_node
    return max(1, -(-launch.cpus // n)), max(16, -(-launch.memory_mb // n))


# -- logs: one merged file per stream, each line labelled with its rank -------------------------------------
_LABEL = re.compile(rb"^(?: *(\d+): |\[\d+,(\d+)\]<std(?:out|err)>:)")
"""``srun --label``'s prefix (``0: ``, padded as ranks grow), which the local engine writes too; or Open MPI's
``mpirun --tag-output`` one (``[1,0]<stdout>:``) for MPI jobs on the local engine."""


def label(rank: int, world: int) -> bytes:
    """The prefix of rank ``rank``'s lines, as ``srun --label`` writes it."""
    return f"{rank:>{len(str(max(world - 1, 0)))}}: ".encode()


def rank_lines(data: bytes, rank: int, *, complete: bool) -> tuple[bytes, int]:
    """Rank ``rank``'s lines in a chunk of the merged log, their labels removed, and how many bytes of the
    chunk were consumed: only whole lines unless ``complete`` (the job has ended), so a follower re-reads a
    line that was still being written."""
    end = len(data) if complete else data.rfind(b"\n") + 1
    out = bytearray()
    for line in data[:end].splitlines(keepends=True):
        match = _LABEL.match(line)
        if match and int(match.group(1) or match.group(2)) == rank:
            out += line[match.end():]
    return bytes(out), end

