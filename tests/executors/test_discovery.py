"""Accelerator discovery: none is an answer, not an error; what is found becomes a valid inventory."""

from __future__ import annotations

import os

from aicc.core.inventory import parse_inventory
from aicc.executors.discovery import flavor_for
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
