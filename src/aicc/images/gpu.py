"""NVIDIA GPUs inside an image job: exactly the placed devices, and the host driver's user-space side.

What ``nvidia-container-cli`` does, in bubblewrap arguments (no extra package needed; where ``nvidia-ctk`` is
installed its CDI spec lists the same files):

- device nodes: ``/dev/nvidia<minor>`` of each placed GPU, plus ``/dev/nvidiactl``, ``/dev/nvidia-uvm``,
  ``/dev/nvidia-uvm-tools`` and ``/dev/nvidia-modeset`` when present; no other GPU's node exists inside;
- ``/proc/driver/nvidia/gpus`` masked with a tmpfs holding only the placed GPUs' entries: NVML enumerates GPUs
  from there, so ``nvidia-smi -L`` inside lists only them;
- the driver's libraries (``libcuda``, ``libnvidia-*``, found with ``ldconfig -p``) and tools (``nvidia-smi``)
  bound read-only under ``/aicc/driver`` (the image's root is read-only, so they cannot go to ``/usr/lib``),
  with ``LD_LIBRARY_PATH`` and ``PATH`` pointing there first: the image's CUDA runtime meets the host's driver.

A placement's device index is NVML's index, which is PCI bus order (as ``CUDA_DEVICE_ORDER=PCI_BUS_ID``);
``/proc/driver/nvidia/gpus/<bus id>/information`` gives each bus id's device minor.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

PROC_GPUS = Path("/proc/driver/nvidia/gpus")
SHARED_NODES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset")
DRIVER_LIBS = re.compile(r"^(libcuda|libnvidia-(ml|ptxjitcompiler|nvvm|gpucomp|allocator|cfg|opencl)|libnvcuvid|"
                         r"libnvidia-encode)\.so")
DRIVER_TOOLS = ("nvidia-smi", "nvidia-debugdump")
INSIDE = "/aicc/driver"


def gpus_by_index(proc: Path = PROC_GPUS) -> list[tuple[str, int]]:
    """(PCI bus id, device minor) of every NVIDIA GPU, in NVML's index order (PCI bus order)."""
    found = []
    for entry in sorted(proc.iterdir()) if proc.is_dir() else []:
        m = re.search(r"Device Minor:\s*(\d+)", (entry / "information").read_text(errors="replace"))
        if m:
            found.append((entry.name, int(m.group(1))))
    return sorted(found, key=lambda item: item[0].lower())


def driver_libraries() -> list[Path]:
    """The host driver's user-space libraries (64-bit), from the dynamic linker's cache."""
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    libs: dict[str, Path] = {}
    for line in out.splitlines():
        name, _, path = line.strip().partition(" => ")
        if DRIVER_LIBS.match(name) and "x86-64" in line and name.split(" ")[0] not in libs:
            libs[name.split(" ")[0]] = Path(path.strip())
    return list(libs.values())


def gpu_args(devices: Sequence[int], proc: Path = PROC_GPUS) -> tuple[list[str], dict[str, str]]:
    """bwrap arguments and environment additions that give the job exactly ``devices`` (NVML indexes)."""
    gpus = gpus_by_index(proc)
    missing = [d for d in devices if d >= len(gpus)]
    if missing:
        raise RuntimeError(f"GPU index {missing[0]} was placed but this node has {len(gpus)} NVIDIA GPU(s)")
    chosen = [gpus[d] for d in devices]
    args: list[str] = []
    for _, minor in chosen:
        args += ["--dev-bind", f"/dev/nvidia{minor}", f"/dev/nvidia{minor}"]
    for node in SHARED_NODES:
        if os.path.exists(node):
            args += ["--dev-bind", node, node]
    args += ["--tmpfs", str(proc)]
    for bus, _ in chosen:
        args += ["--ro-bind", str(proc / bus), str(proc / bus)]
    for lib in driver_libraries():
        args += ["--ro-bind", str(lib), f"{INSIDE}/lib/{lib.name}"]
    for tool in DRIVER_TOOLS:
        path = shutil.which(tool)
        if path:
            args += ["--ro-bind", path, f"{INSIDE}/bin/{tool}"]
    return args, {"LD_LIBRARY_PATH": f"{INSIDE}/lib", "PATH": f"{INSIDE}/bin"}
