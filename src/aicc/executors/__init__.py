"""Execution engines behind one protocol (``base.Executor``), chosen per site by configuration."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aicc.config import Settings
    from aicc.executors.base import Executor


def make_executor(kind: str, settings: Settings) -> Executor:
    """``kind`` is the site's ``executor`` from the inventory: "local" or "slurm"."""
    if kind == "slurm":
        from aicc.executors.slurm import SlurmConfig, SlurmExecutor
        from aicc.runner.identity import UidRange

        return SlurmExecutor(SlurmConfig.from_cluster_dir(settings.slurm_dir),
                             uids=UidRange(settings.uid_base, settings.uid_count))
    if kind == "local":
        from aicc.executors.local import LocalExecutor
        from aicc.executors.local.isolation import harden_home
        from aicc.runner.identity import UidRange

        settings.home.mkdir(parents=True, exist_ok=True)
        if os.geteuid() in (0, settings.home.stat().st_uid):  # root, or a rootless server in its own home
            harden_home(settings.home)
        return LocalExecutor(settings.jobs_dir, grace_s=settings.preempt_grace_s,
                             uids=UidRange(settings.uid_base, settings.uid_count))
    raise ValueError(f"unknown executor {kind!r} (expected local or slurm)")
