"""Turning a placed ``Launch`` into an ``sbatch`` command line and a batch script.

AICC has already decided the nodes and device counts, so the request pins them
(``--nodelist``, one node per placement) and Slurm only executes. ``cpus`` and
``memory_mb`` are per node, as the local executor treats its one node.
"""

from __future__ import annotations

import math
import shlex
from pathlib import Path

from aicc.executors.base import Launch
from aicc.executors.slurm.config import SlurmConfig

STDOUT_NAME = "stdout.log"
STDERR_NAME = "stderr.log"


def batch_script_path(launch: Launch) -> Path:
    return launch.workdir / f"slurm-batch-{launch.attempt}.sh"


# Set by Slurm on the node at run time; a sandboxed job still needs them (device selection above all).
SLURM_PASSTHROUGH = ("CUDA_VISIBLE_DEVICES", "SLURM_JOB_ID", "SLURM_JOB_NODELIST", "SLURM_CPUS_PER_TASK",
                     "SLURM_JOB_GPUS", "SLURM_STEP_GPUS")


def batch_script(launch: Launch) -> str:
    """The job's command, exec'd so Slurm's signals reach it directly; on sensitive data, inside the sandbox."""
    command = shlex.join(launch.argv)
    if launch.sandbox is not None:
        command = sandboxed_command(launch)
    return (
        "#!/bin/sh\n"
        f"# Written by AICC for job {launch.job_id} attempt {launch.attempt} ({launch.name}).\n"
        f"exec {command}\n"
    )


def sandboxed_command(launch: Launch) -> str:
    """bubblewrap around the command, as on the local executor, plus the variables Slurm sets on the node."""
    from aicc.executors.sandbox import wrap

    assert launch.sandbox is not None
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", **job_env(launch)}
    argv = wrap(launch.argv, launch.sandbox, env=env)
    split = len(argv) - len(launch.argv) - 1  # the "--" before the job's own argv
    assert argv[split] == "--"
    passthrough = " ".join(f'--setenv {name} "${{{name}:-}}"' for name in SLURM_PASSTHROUGH)
    return f"{shlex.join(argv[:split])} {passthrough} {shlex.join(argv[split:])}"


def partition_for(launch: Launch, config: SlurmConfig) -> str | None:
    if launch.partition:
        return launch.partition
    flavor = config.flavors.get(launch.flavor)
    return flavor.partition if flavor else None


def gres_type_for(launch: Launch, config: SlurmConfig) -> str | None:
    if launch.gres_type:
        return launch.gres_type
    flavor = config.flavors.get(launch.flavor)
    return flavor.gres_type if flavor else None


def sbatch_argv(launch: Launch, config: SlurmConfig) -> list[str]:
    stdout = launch.workdir / STDOUT_NAME
    stderr = launch.workdir / STDERR_NAME
    argv = [
        "sbatch",
        "--parsable",
        f"--job-name={launch.name}",
        f"--chdir={launch.workdir}",
        f"--output={stdout}",
        f"--error={stderr}",
        "--open-mode=append",  # a retry keeps the earlier attempt's output
        f"--time={max(1, math.ceil(launch.time_limit_s / 60))}",
        "--export=ALL",  # the sbatch process gets exactly slurm_env() + launch.env
        "--ntasks-per-node=1",
        f"--cpus-per-task={max(1, launch.cpus)}",
        f"--mem={max(1, launch.memory_mb)}M",
        "--no-requeue",
    ]
    partition = partition_for(launch, config)
    if partition:
        argv.append(f"--partition={partition}")
    if launch.placements:
        nodes = [p.node for p in launch.placements]
        argv += [f"--nodes={len(nodes)}", f"--nodelist={','.join(nodes)}"]
    per_node = max((len(p.devices) for p in launch.placements), default=0)
    gres_type = gres_type_for(launch, config)
    if per_node:
        argv.append(f"--gres=gpu:{gres_type}:{per_node}" if gres_type else f"--gres=gpu:{per_node}")
    argv.append(str(batch_script_path(launch)))
    return argv


def job_env(launch: Launch) -> dict[str, str]:
    env = dict(launch.env)
    env.setdefault("AICC_JOB_ID", str(launch.job_id))
    env.setdefault("AICC_ATTEMPT", str(launch.attempt))
    return env
