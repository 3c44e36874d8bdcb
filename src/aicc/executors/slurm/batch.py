"""Turning a placed ``Launch`` into an ``sbatch`` command line and a batch script.

AICC has already decided the nodes and device counts, so the request pins them
(``--nodelist``, one node per placement) and Slurm only executes. ``cpus`` and
``memory_mb`` are per node, as the local executor treats its one node.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Sequence
from pathlib import Path

from aicc.executors.base import LOG_FILES, Launch
from aicc.executors.slurm.config import SlurmConfig
from aicc.executors.slurm.gang import sbatch_options as gang_options
from aicc.executors.tasks import is_multi

STDOUT_NAME = LOG_FILES["stdout"]
STDERR_NAME = LOG_FILES["stderr"]


def batch_script_path(launch: Launch) -> Path:
    return launch.workdir / f"slurm-batch-{launch.attempt}.sh"


# Set by Slurm on the node at run time; a sandboxed job still needs them (device selection above all).
SLURM_PASSTHROUGH = ("CUDA_VISIBLE_DEVICES", "SLURM_JOB_ID", "SLURM_JOB_NODELIST", "SLURM_CPUS_PER_TASK",
                     "SLURM_JOB_GPUS", "SLURM_STEP_GPUS")


def run_spec_path(launch: Launch) -> Path:
    return launch.workdir / f"slurm-run-{launch.attempt}.json"


def batch_script(launch: Launch, runner: Sequence[str] | None = None) -> str:
    """The job's command, exec'd so Slurm's signals reach it directly. With ``runner`` (the command that
    runs the run spec beside the script: ``python -I -m aicc.runner spec.json``), through the same runner
    as on the local engine; without (only the script tests), the bare command or the old sandbox."""
    command = shlex.join(launch.argv)
    if runner is not None:
        command = shlex.join([*runner, str(run_spec_path(launch))])
    elif launch.sandbox is not None:
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


def sbatch_argv(launch: Launch, config: SlurmConfig, uid: int | None = None) -> list[str]:
    """``uid``: the project's, given to Slurm (``--uid``/``--gid``, gid = uid) so the job is the project's in
    Slurm's records (squeue, the completion log, accounting) and its step starts as it, not as root."""
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
    if uid is not None:
        argv += [f"--uid={uid}", f"--gid={uid}"]
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
    if is_multi(launch):
        argv = gang_options(argv, launch)
    argv.append(str(batch_script_path(launch)))
    return argv


def job_env(launch: Launch) -> dict[str, str]:
    env = dict(launch.env)
    env.setdefault("AICC_JOB_ID", str(launch.job_id))
    env.setdefault("AICC_ATTEMPT", str(launch.attempt))
    return env


# -- arrays: like-shaped runs started by one sbatch ----------------------------------------
_PER_RUN = ("--job-name=", "--chdir=", "--output=", "--error=")
_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def array_key(launch: Launch, config: SlurmConfig, uid: int | None = None) -> tuple[str, ...] | None:
    """What must be equal for runs to share one array: every sbatch option but the run's own name, directory
    and log files. None: this run goes alone (an environment name a shell cannot export)."""
    if is_multi(launch) or not all(_SHELL_NAME.match(name) for name in job_env(launch)):
        return None  # a gang goes alone: its batch script is srun over its own nodes
    return tuple(_shared_options(launch, config, uid))


def _shared_options(launch: Launch, config: SlurmConfig, uid: int | None = None) -> list[str]:
    """The run's sbatch options less its own name, directory, log files and batch script (the last item)."""
    return [arg for arg in sbatch_argv(launch, config, uid)[:-1] if not arg.startswith(_PER_RUN)]


def array_marker_path(launch: Launch) -> Path:
    """Written before the array's sbatch: "<array name> <task>", how a restarted controller finds the run."""
    return launch.workdir / f"slurm-array-{launch.attempt}"


def array_script(launches: Sequence[Launch]) -> str:
    """Task i runs launch i's own batch script in its directory with its environment; its stdout and stderr
    are the files sbatch opens through ``<array dir>/<i>``, a link to that directory."""
    lines = ["#!/bin/sh", f"# Written by AICC: {len(launches)} runs as one Slurm array.",
             'case "$SLURM_ARRAY_TASK_ID" in']
    for i, launch in enumerate(launches):
        exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in job_env(launch).items())
        lines.append(f"{i}) cd {shlex.quote(str(launch.workdir))} || exit 1"
                     + (f"; export {exports}" if exports else "")
                     + f"; exec {shlex.quote(str(batch_script_path(launch)))} ;;")
    lines += ["esac", 'echo "AICC: no run for array task $SLURM_ARRAY_TASK_ID" >&2', "exit 1", ""]
    return "\n".join(lines)


def array_sbatch_argv(launches: Sequence[Launch], config: SlurmConfig, name: str, directory: Path,
                      uid: int | None = None) -> list[str]:
    return [*_shared_options(launches[0], config, uid), f"--job-name={name}", f"--chdir={directory}",
            f"--output={directory}/%a/{STDOUT_NAME}", f"--error={directory}/%a/{STDERR_NAME}",
            f"--array=0-{len(launches) - 1}", str(directory / "dispatch.sh")]
