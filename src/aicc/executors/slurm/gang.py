"""Multi-node runs on Slurm: the batch step starts every task with ``srun``, each on the node AICC placed it.

Kept apart from ``batch.py`` and the executor's single-task path on purpose: the batch script of a gang is
``srun`` inside the allocation, with ``--distribution=arbitrary`` and a hostfile AICC writes (line *i*: the
node of rank *i*), so Slurm's task ids are AICC's ranks and every rank lands exactly where the policy put it.
Each rank runs its own small script beside the batch script: through the runner with its own spec (its own
cgroups name, its share of CPUs and memory, the rank's variables), or bare where isolation is off (tests).

Rank 0's node's address (Slurm's ``NodeAddr``) and a port free there become ``MASTER_ADDR`` and
``MASTER_PORT`` at run time; ``srun --kill-on-bad-exit`` stops
every rank when one fails; the first rank to fail records itself, and the job ends with that rank's exit code
and a line naming it in its stderr (``AICC: rank N failed with exit code X``).
``--mpi`` adds ``srun --mpi=pmix`` (Slurm's PMIx server; Debian's Open MPI has no PMI-2 client).
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from aicc.executors import tasks as _tasks
from aicc.executors.base import Launch, Placement

MPI_PLUGIN = "pmix"
RUNTIME_VARS = ("MASTER_ADDR", "MASTER_PORT", "PET_MASTER_ADDR", "PET_MASTER_PORT")
"""Known only when the batch step runs: passed from its environment into each rank's sandbox."""
MPI_PASSTHROUGH = ("PMIX_*", "PMI_*", "OMPI_*", "SLURM_*")


def hostfile_path(launch: Launch) -> Path:
    return launch.workdir / f"slurm-hosts-{launch.attempt}"


def task_script_path(launch: Launch, rank: int | str) -> Path:
    return launch.workdir / f"slurm-task-{launch.attempt}-r{rank}.sh"


def task_spec_path(launch: Launch, rank: int) -> Path:
    return launch.workdir / f"slurm-run-{launch.attempt}-r{rank}.json"


def sbatch_options(argv: list[str], launch: Launch) -> list[str]:
    """The single-task sbatch options with the gang's shape: its tasks per node, each task's share of CPUs,
    the memory per node (``--mem`` is per node; the job's memory is for the whole gang)."""
    cpus, _ = _tasks.task_share(launch)
    per_node_mb = max(1, -(-launch.memory_mb // max(1, len(launch.placements))))
    shaped = {"--ntasks-per-node=": str(launch.tasks_per_node), "--cpus-per-task=": str(cpus),
              "--mem=": f"{per_node_mb}M"}
    out = []
    for arg in argv:
        key = next((k for k in shaped if arg.startswith(k)), None)
        out.append(f"{key}{shaped[key]}" if key else arg)
    return out


def batch_script(launch: Launch, python: str = sys.executable) -> str:
    """Resolve the master, then ``srun`` every rank where AICC placed it. Each rank's shell outlives its
    runner (it traps SIGTERM, so it stays in the step's process tree, where Slurm's SIGKILL after
    ``KillWait`` finds the runner and its job) and records the rank's code if it failed first."""
    ranks = _tasks.layout(launch.placements, launch.tasks_per_node)
    first = launch.placements[0].node
    port = shlex.join([python, "-I", "-c", "import socket; s = socket.socket(); s.bind((str(), 0)); "
                                          "print(s.getsockname()[1])"])
    srun = ["srun", f"--ntasks={len(ranks)}", "--distribution=arbitrary", "--kill-on-bad-exit=1", "--label",
            f"--cpus-per-task={_tasks.task_share(launch)[0]}"]
    if launch.mpi:
        srun.append(f"--mpi={MPI_PLUGIN}")
    task = shlex.quote(str(task_script_path(launch, "")).removesuffix(".sh"))
    failed = shlex.quote(str(launch.workdir / f"slurm-failed-{launch.attempt}"))
    return (
        "#!/bin/sh\n"
        f"# Written by AICC for job {launch.job_id} attempt {launch.attempt} ({launch.name}): {len(ranks)} tasks "
        f"on {','.join(p.node for p in launch.placements)}, as AICC placed them.\n"
        f"MASTER_ADDR=$(scontrol show node {shlex.quote(first)} 2>/dev/null"
        " | sed -n 's/.*NodeAddr=\\([^ ]*\\).*/\\1/p' | head -n 1)\n"
        '[ -n "$MASTER_ADDR" ] || MASTER_ADDR=$(hostname)\n'
        "# a port free on rank 0's node: here when this step runs there, else asked of that node by one small step\n"
        f"if [ \"$SLURMD_NODENAME\" = {shlex.quote(first)} ]; then MASTER_PORT=$({port})\n"
        f"else MASTER_PORT=$(srun --nodes=1 --ntasks=1 --nodelist={shlex.quote(first)} {port})\nfi\n"
        "PET_MASTER_ADDR=$MASTER_ADDR PET_MASTER_PORT=$MASTER_PORT\n"
        "export MASTER_ADDR MASTER_PORT PET_MASTER_ADDR PET_MASTER_PORT\n"
        f"export SLURM_HOSTFILE={shlex.quote(str(hostfile_path(launch)))}\n"
        f"F={failed}\nrm -f \"$F\"\n"
        f"{shlex.join(srun)} /bin/sh -c 'trap : TERM INT; /bin/sh \"$0$SLURM_PROCID.sh\"; c=$?; [ $c = 0 ] || "
        f"(set -C; echo \"$SLURM_PROCID $c\" > \"$1\") 2>/dev/null; exit $c' {task} \"$F\"\n"
        "code=$?\n"
        '# the first rank to fail on its own (the others were stopped after it): its code is the job\'s. The step\n'
        '# runs as the project\'s uid, so the record is the project\'s: it names a rank, it grants nothing\n'
        'if [ -f "$F" ] && [ ! -L "$F" ] && [ "$(stat -c %u "$F")" = "$(id -u)" ] && read -r rank rcode < "$F"; then\n'
        '  echo "AICC: rank $rank failed with exit code $rcode; the other ranks were stopped" >&2\n'
        '  scontrol update JobId="$SLURM_JOB_ID" Comment="aicc: rank $rank failed with exit code $rcode" '
        '2>/dev/null\n'
        '  exit "$rcode"\nfi\nexit $code\n'
    )


def write(launch: Launch, runner: Sequence[str] | None, uid: int | None, *, engine_devices: str = "") -> None:
    """The batch script, the hostfile and one script (and spec, when isolated) per rank, all root's files in
    the job's directory. ``runner``: the command that runs a spec (None: ranks run bare, script tests).

    Slurm starts the step as the project's uid in cgroups it made (``sbatch --uid``, ``task/cgroup``), so each
    rank's runner checks that identity and those limits instead of making them. Slurm's memory limit is per
    node (``--mem``) and a task may run on every core the step holds there, so a rank's spec states its
    node's share: the runner refuses a step the engine left wider than that."""
    from aicc.executors.local.isolation import run_spec, write_new
    from aicc.executors.slurm import batch

    ranks = _tasks.layout(launch.placements, launch.tasks_per_node)
    write_new(hostfile_path(launch), "".join(f"{t.node}\n" for t in ranks))
    cpus, memory_mb = _tasks.task_share(launch)
    for t in ranks:
        env = {**batch.job_env(launch), **_tasks.task_env(t, launch, master_addr="", master_port=0),
               "OMP_NUM_THREADS": str(cpus)}
        for name in RUNTIME_VARS:
            env.pop(name, None)
        if launch.mpi:
            env["PMIX_MCA_gds"] = "hash"  # the step's shared-memory store is not inside the rank's sandbox
        if runner is None or uid is None:
            exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
            write_new(task_script_path(launch, t.rank), f"#!/bin/sh\n{exports}exec {shlex.join(launch.argv)}\n")
            continue
        per_node = launch.tasks_per_node
        one = dataclasses.replace(launch, placements=[Placement(t.node, t.devices)], cpus=cpus * per_node,
                                  memory_mb=memory_mb * per_node)
        base = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(launch.workdir), "LANG": "C.UTF-8", **env}
        spec = run_spec(one, base, uid=uid, device_root=Path("/dev"), engine="slurm")
        passthrough = [*batch.SLURM_PASSTHROUGH, *RUNTIME_VARS, "SLURM_*", "SLURMD_*",
                       *(MPI_PASSTHROUGH if launch.mpi else ())]
        spec = dataclasses.replace(spec, name=f"{spec.name}-r{t.rank}", passthrough=passthrough, step=True,
                                   engine_identity=True, engine_devices=engine_devices)
        write_new(task_spec_path(launch, t.rank), json.dumps(spec.to_json()))
        write_new(task_script_path(launch, t.rank),
                  f"#!/bin/sh\nexec {shlex.join([*runner, str(task_spec_path(launch, t.rank))])}\n")
    write_new(batch.batch_script_path(launch), batch_script(launch), 0o755)
