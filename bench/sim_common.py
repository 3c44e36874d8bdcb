"""Shared bits of the simulator benchmarks: where the data is, what machine ran them."""

from __future__ import annotations

import contextlib
import os
import platform
import resource
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def shared_data() -> Path:
    for base in (Path(os.environ.get("AICC_SHARED", "/nonexistent")), Path("/work/shared"), ROOT.parent / "shared",
                 ROOT.parent.parent / "shared"):
        if (base / "data" / "philly-gavel").is_dir():
            return base / "data" / "philly-gavel"
    raise SystemExit("the Philly/Gavel trace is not here (set AICC_SHARED to the shared folder)")


def machine() -> dict[str, object]:
    cpu = ""
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    return {"python": platform.python_version(), "cpu": cpu, "cores": os.cpu_count(), "system": platform.platform()}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
