"""Where a result came from: the devices, drivers, packages, model hashes and AICC commit of one run.

Written into every result so two figures are only ever compared knowing what differed between them.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import asdict
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from aicc.testbed import devices as devs
from aicc.testbed.workloads.base import Provenanced


def _git_commit() -> str:
    env = os.environ.get("AICC_GIT_COMMIT")
    if env:
        return env
    try:
        here = Path(__file__).resolve().parent
        done = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5, check=False)
        return done.stdout.strip() if done.returncode == 0 else "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def _versions(names: Sequence[str]) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def provenance(workload: Provenanced, flavor: str) -> dict[str, Any]:
    found = devs.all_devices()
    vendor = "cpu" if flavor == "cpu" else next((d.vendor for d in found if devs.flavor_of(d) == flavor), "")
    mine = [d for d in found if d.vendor == vendor] or [found[-1]]
    return {
        "flavor": flavor, "vendor": vendor or "unknown", "device_model": mine[0].model, "driver": mine[0].driver,
        "devices": [asdict(d) for d in mine],
        "aicc_commit": _git_commit(), "aicc_version": _versions(["aicc"])["aicc"],
        "packages": _versions(["mlcommons-loadgen", "numpy", "onnxruntime", "onnxruntime-gpu", "nvidia-ml-py"])
        | workload.provenance(),
        "python": platform.python_version(), "host": socket.gethostname(), "platform": platform.platform(),
        "job_id": os.environ.get("AICC_JOB_ID"), "node": os.environ.get("AICC_NODE"),
        "visible_devices": {k: v for k, v in os.environ.items()
                            if k in ("CUDA_VISIBLE_DEVICES", "RBLN_DEVICES", "FURIOSA_DEVICES")},
    }


def units_used(flavor: str) -> int:
    """Accelerators the job was given; on a CPU flavor, the cores it may run on (how SU count it)."""
    acc = os.environ.get("AICC_ACCELERATORS")
    if flavor != "cpu" and acc and acc.isdigit() and int(acc) > 0:
        return int(acc)
    return len(os.sched_getaffinity(0))
