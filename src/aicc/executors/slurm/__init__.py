"""The Slurm executor: AICC decides, a real Slurm cluster runs (sbatch/squeue/scancel)."""

from aicc.executors.slurm.commands import SlurmError, SlurmUnavailable
from aicc.executors.slurm.config import SlurmConfig, SlurmFlavor
from aicc.executors.slurm.executor import SlurmExecutor
from aicc.executors.slurm.inventory import SlurmNode, read_inventory

__all__ = [
    "SlurmConfig",
    "SlurmError",
    "SlurmExecutor",
    "SlurmFlavor",
    "SlurmNode",
    "SlurmUnavailable",
    "read_inventory",
]
