"""What accelerators this machine has, for the local inventory.

NVIDIA devices through NVML (``nvidia-ml-py``, imported only when asked for);
no driver, no library or no device all mean "none", never an error, so the same
command works on a CPU-only login node. The result turns into inventory TOML an
operator can review before loading it (``aicc admin inventory discover``).
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Device:
    index: int
    name: str
    uuid: str
    memory_mb: int
    mig_enabled: bool | None


FLAVOR_PATTERNS = [
    (r"\bH200\b", "h200"), (r"\bH100\b", "h100"), (r"\bA100\b", "a100"), (r"\bL40S\b", "l40s"), (r"\bL4\b", "l4"),
    (r"\bV100\b", "v100"), (r"\bA10\b", "a10"), (r"\bT4\b", "t4"), (r"\bB200\b", "b200"), (r"\bGH200\b", "gh200"),
]


def flavor_for(device_name: str) -> str:
    """"NVIDIA H100 80GB HBM3" -> "h100"; an unknown model becomes a slug of its name."""
    for pattern, flavor in FLAVOR_PATTERNS:
        if re.search(pattern, device_name, re.IGNORECASE):
            return flavor
    slug = re.sub(r"[^a-z0-9]+", "-", device_name.lower().replace("nvidia", "")).strip("-")
    return slug[:63] or "gpu"


def nvidia_devices() -> list[Device]:
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return []
    try:
        out = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(h)
            uuid = pynvml.nvmlDeviceGetUUID(h)
            mem = pynvml.nvmlDeviceGetMemoryInfo(h).total // (1024 * 1024)
            try:
                mig = bool(pynvml.nvmlDeviceGetMigMode(h)[0])
            except pynvml.NVMLError:
                mig = None
            out.append(Device(i, name if isinstance(name, str) else name.decode(),
                              uuid if isinstance(uuid, str) else uuid.decode(), int(mem), mig))
        return out
    finally:
        pynvml.nvmlShutdown()


def inventory_toml(devices: list[Device], *, host: str | None = None, cpus: int | None = None,
                   memory_gb: int | None = None) -> str:
    """Inventory tables for this host: one flavor per device model, one node per flavor present."""
    host = (host or socket.gethostname()).split(".")[0].lower()
    cpus = cpus or os.cpu_count() or 1
    if memory_gb is None:
        memory_gb = max(1, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 1024**3)
    node = re.sub(r"[^a-z0-9-]+", "-", host).strip("-") or "node"
    by_flavor: dict[str, list[Device]] = {}
    for d in devices:
        by_flavor.setdefault(flavor_for(d.name), []).append(d)
    lines = ["[site]", f'name = "{node}"', 'executor = "local"', ""]
    for flavor, devs in by_flavor.items():
        lines += ["[[flavors]]", f'name = "{flavor}"', 'vendor = "nvidia"',
                  f"memory_gb = {round(devs[0].memory_mb / 1024)}", 'device_env = "CUDA_VISIBLE_DEVICES"',
                  "su_rate = 1.0  # set the center's rate", ""]
    for flavor, devs in by_flavor.items():
        lines += ["[[nodes]]", f'name = "{node}-{flavor}"'[:70], f'flavor = "{flavor}"',
                  f"accelerators = {len(devs)}", f"cpus = {cpus}", f"memory_gb = {memory_gb}", ""]
    if not devices:
        lines += ["[[flavors]]", 'name = "cpu"', 'vendor = "cpu"', "su_rate = 0.02", "",
                  "[[nodes]]", f'name = "{node}"', 'flavor = "cpu"', "accelerators = 0", f"cpus = {cpus}",
                  f"memory_gb = {memory_gb}", ""]
    return "\n".join(lines)


def slurm_inventory_toml(nodes: list[tuple[str, str, bool, int, int, int]], site: str = "slurm") -> str:
    """Inventory for a Slurm site from ``(name, flavor, is_cpu, accelerators, cpus, memory_mb)`` per node.

    Node names stay Slurm's, which is how AICC matches a drained node to its own inventory.
    """
    flavors: dict[str, bool] = {}
    for _, flavor, cpu, *_ in nodes:
        flavors.setdefault(flavor, cpu)
    lines = ["[site]", f'name = "{site}"', 'executor = "slurm"', ""]
    for flavor, cpu in flavors.items():
        lines += ["[[flavors]]", f'name = "{flavor}"', f'vendor = "{"cpu" if cpu else "nvidia"}"',
                  f"su_rate = {0.02 if cpu else 1.0}  # set the center's rate", ""]
    for name, flavor, cpu, accelerators, cpus, memory_mb in nodes:
        lines += ["[[nodes]]", f'name = "{name}"', f'flavor = "{flavor}"',
                  f"accelerators = {0 if cpu else accelerators}", f"cpus = {cpus}",
                  f"memory_gb = {max(1, memory_mb // 1024)}", ""]
    return "\n".join(lines)
