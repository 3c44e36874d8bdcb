"""Accelerator discovery: none is an answer, not an error; what is found becomes a valid inventory."""

from __future__ import annotations

import os

from aicc.core.inventory import parse_inventory
from aicc.executors.discovery import flavor_for, nvml_slices, parse_nvidia_smi_l, slices_inventory_toml
from aicc.testbed.devices import AcceleratorDevice, inventory_toml, nvidia


def test_no_gpu_here_means_an_empty_list() -> None:
    devices = nvidia()
    assert isinstance(devices, list)
    if not os.path.exists("/dev/nvidiactl"):
        assert devices == []


def test_device_names_map_to_flavors() -> None:
    assert flavor_for("NVIDIA H100 80GB HBM3") == "h100"
    assert flavor_for("NVIDIA A100-SXM4-40GB") == "a100"
    assert flavor_for("NVIDIA L40S") == "l40s"
    assert flavor_for("Tesla T4") == "t4"
    assert flavor_for("NVIDIA RTX 6000 Ada Generation") == "rtx-6000-ada-generation"


def test_discovered_devices_make_a_loadable_inventory() -> None:
    devices = [AcceleratorDevice("nvidia", i, "NVIDIA H100 80GB HBM3", f"GPU-{i}", 81559, mig_enabled=False)
               for i in range(8)]
    devices.append(AcceleratorDevice("nvidia", 8, "NVIDIA L4", "GPU-8", 23034))
    inv = parse_inventory(inventory_toml(devices, host="gpu01.center.kr", cpus=96, memory_gb=1024), "found.toml")
    assert inv.capacity() == {"h100": 8, "l4": 1}
    assert inv.flavors["h100"].memory_gb == 80 and inv.flavors["h100"].device_env == "CUDA_VISIBLE_DEVICES"
    assert [n.name for n in inv.nodes] == ["gpu01-h100", "gpu01-l4"]
    cpu_only = parse_inventory(inventory_toml([], host="login", cpus=4, memory_gb=8), "cpu.toml")
    assert cpu_only.capacity() == {"cpu": 4}


NVIDIA_SMI_L = """GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-5c5b3c2e-0c4a-4d7e-9a1e-0f6f2a3b4c5d)
  MIG 3g.40gb     Device  0: (UUID: MIG-9f1e2d3c-4b5a-5968-8776-a5b4c3d2e1f0)
  MIG 1g.10gb     Device  1: (UUID: MIG-1a2b3c4d-5e6f-5a7b-8c9d-0e1f2a3b4c5d)
  MIG 1g.10gb     Device  2: (UUID: MIG-2b3c4d5e-6f7a-5b8c-9d0e-1f2a3b4c5d6e)
GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-6d6c4d3f-1d5b-5e8f-0b2f-1a7a3b4c5d6e)
"""


def test_mig_slices_from_nvidia_smi_become_flavors_of_their_own_in_a_loadable_inventory() -> None:
    gpus, slices = parse_nvidia_smi_l(NVIDIA_SMI_L)
    assert [g[0] for g in gpus] == [0, 1] and gpus[1][2].startswith("GPU-6d6c")
    assert [(s.gpu, s.flavor) for s in slices] == [(0, "h100.3g.40gb"), (0, "h100.1g.10gb"), (0, "h100.1g.10gb")]
    whole = "\n".join(['[[flavors]]', 'name = "h100"', 'vendor = "nvidia"', 'su_rate = 2.0', ''])
    text = whole + slices_inventory_toml(slices, "gpu01.center.kr", cpus=28, memory_gb=256, su_rate=2.0)
    inv = parse_inventory(text, "slices.toml")
    assert inv.capacity() == {"h100": 0, "h100.3g.40gb": 1, "h100.1g.10gb": 2}
    small = inv.flavors["h100.1g.10gb"]
    assert small.slice_of == "h100" and small.memory_gb == 10 and small.su_rate == round(2.0 / 7, 3)
    node = next(n for n in inv.nodes if n.flavor == "h100.1g.10gb")
    assert node.name == "gpu01-h100-1g-10gb" and node.devices == (slices[1].uuid, slices[2].uuid)


def test_nvml_without_a_device_finds_no_slices() -> None:
    if not os.path.exists("/dev/nvidiactl"):
        assert nvml_slices() == []
