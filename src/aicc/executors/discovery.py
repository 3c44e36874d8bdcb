"""Flavor names for discovered devices, and inventory tables for a Slurm cluster's nodes.

Finding this machine's devices (NVML for NVIDIA, and the NPUs' own tools) is written once, in
:mod:`aicc.testbed.devices`, which the testbed's exporter shares; ``aicc discover`` prints its inventory.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aicc.executors.base import Launch

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


def selection(launch: Launch, node: str, devices: Sequence[int]) -> str:
    """What the run's device variable says for ``devices`` (indexes) on ``node``: the inventory's selectors
    (``MIG-<uuid>``, the only way to hand a process one MIG slice) where it names them, else the indexes."""
    ids = launch.device_ids.get(node)
    if ids:
        return ",".join(ids[i] if 0 <= i < len(ids) else str(i) for i in devices)
    return ",".join(map(str, devices))


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


# -- fractional accelerators: NVIDIA MIG slices -------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Slice:
    """One MIG slice (GPU instance) of a device, as NVML or ``nvidia-smi -L`` names it."""

    gpu: int
    gpu_name: str
    profile: str
    """``1g.10gb``, ``3g.40gb``, …: the compute slices and memory of the instance."""
    uuid: str
    """``MIG-<uuid>``: what CUDA_VISIBLE_DEVICES takes to hand a process exactly this slice."""

    @property
    def flavor(self) -> str:
        return slice_flavor(self.gpu_name, self.profile)


_GPU_LINE = re.compile(r"^GPU (\d+): (.+?) \(UUID: (GPU-[0-9A-Za-z-]+)\)\s*$")
_MIG_LINE = re.compile(r"^\s+MIG (\d+g\.\d+gb(?:\+\w+)?)\s+Device\s+\d+: \(UUID: (MIG-[0-9A-Za-z/-]+)\)\s*$")
_PROFILE = re.compile(r"(\d+g\.\d+gb(?:\+\w+)?)")


def slice_flavor(gpu_name: str, profile: str) -> str:
    """"NVIDIA H100 80GB HBM3", "1g.10gb" -> "h100.1g.10gb": the device's flavor and the MIG profile."""
    return f"{flavor_for(gpu_name)}.{profile.lower()}"[:63]


def parse_nvidia_smi_l(text: str) -> tuple[list[tuple[int, str, str]], list[Slice]]:
    """``nvidia-smi -L``: the devices (index, name, GPU-uuid) and the MIG slices under them."""
    gpus: list[tuple[int, str, str]] = []
    slices: list[Slice] = []
    for line in text.splitlines():
        g = _GPU_LINE.match(line)
        if g:
            gpus.append((int(g.group(1)), g.group(2), g.group(3)))
            continue
        m = _MIG_LINE.match(line)
        if m and gpus:
            index, name, _ = gpus[-1]
            slices.append(Slice(index, name, m.group(1), m.group(2)))
    return gpus, slices


def nvml_slices() -> list[Slice]:
    """The MIG slices NVML reports on this machine (none without NVML, a GPU or MIG mode). Checked on a GPU
    machine by ``bench/check_mig.py``."""
    from aicc.testbed.devices import nvml_session

    out: list[Slice] = []
    with nvml_session() as pynvml:
        if pynvml is None:
            return []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = _str(pynvml.nvmlDeviceGetName(h))
            try:
                current, _pending = pynvml.nvmlDeviceGetMigMode(h)
            except pynvml.NVMLError:
                continue  # no MIG on this device
            if not current:
                continue
            for k in range(pynvml.nvmlDeviceGetMaxMigDeviceCount(h)):
                try:
                    mig = pynvml.nvmlDeviceGetMigDeviceHandleByIndex(h, k)
                except pynvml.NVMLError:
                    continue  # an empty slot
                found = _PROFILE.search(_str(pynvml.nvmlDeviceGetName(mig)))
                if found:
                    out.append(Slice(i, name, found.group(1), _str(pynvml.nvmlDeviceGetUUID(mig))))
    return out


def _str(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def slices_inventory_toml(slices: Sequence[Slice], host: str, *, cpus: int, memory_gb: int,
                          su_rate: float = 1.0) -> str:
    """Inventory tables for the slices of one host: a flavor per profile (``slice_of`` its device's flavor, its
    rate a share of ``su_rate`` by compute slices out of 7) and a node per profile naming its slices' UUIDs.
    The host's CPUs and memory are split between them by slice count; the operator adjusts both."""
    by_flavor: dict[str, list[Slice]] = {}
    for s in slices:
        by_flavor.setdefault(s.flavor, []).append(s)
    total = max(1, len(slices))
    lines: list[str] = []
    for flavor, group in by_flavor.items():
        profile = group[0].profile
        compute = int(profile.split("g.", 1)[0])
        memory = int(re.sub(r"\D", "", profile.split(".", 1)[1].split("+", 1)[0]) or 0)
        lines += ["[[flavors]]", f'name = "{flavor}"', 'vendor = "nvidia"', f"memory_gb = {memory}",
                  f'slice_of = "{flavor_for(group[0].gpu_name)}"', f"su_rate = {round(su_rate * compute / 7, 3)}",
                  ""]
    short = host.split(".")[0].lower()
    for flavor, group in by_flavor.items():
        share = len(group) / total
        ids = ", ".join(f'"{s.uuid}"' for s in group)
        lines += ["[[nodes]]", f'name = "{(short + "-" + flavor.replace(".", "-"))[:63]}"', f'flavor = "{flavor}"',
                  f"accelerators = {len(group)}", f"cpus = {max(1, int(cpus * share))}",
                  f"memory_gb = {max(1, int(memory_gb * share))}", f"devices = [{ids}]", ""]
    return "\n".join(lines)
