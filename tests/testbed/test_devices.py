"""Discovery per vendor: absent tools and libraries mean no devices; vendor output parsed from samples."""

from __future__ import annotations

import os
import stat
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from aicc.testbed import devices
from aicc.testbed.devices import AcceleratorDevice, parse_rbln_json
from aicc.testbed.exporter import DeviceGauges

DATA = Path(__file__).parent / "data"


def test_no_gpu_or_npu_here_means_none_and_no_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no rbln-stat, no rbln-smi
    monkeypatch.setitem(sys.modules, "furiosa_smi_py", None)  # import fails as when not installed
    assert devices.nvidia() == [] and devices.furiosa() == [] and devices.rebellions() == []
    found = devices.all_devices()
    assert [d.vendor for d in found] == ["cpu"] and devices.flavor_of(found[0]) == "cpu"


def test_rbln_stat_sample_parses_units_and_both_npu_spellings() -> None:
    found = parse_rbln_json((DATA / "rbln_stat.json").read_text())
    assert [d.index for d in found] == [0, 1]
    first, second = found
    assert first.vendor == "rebellions" and first.model == "RBLN-CA12" and first.driver == "1.3.73"
    assert first.memory_mb == 16384 and first.memory_used_mb == 2048
    assert first.power_w == 38.5 and second.power_w == 21.0  # "38.5W" and "21000mW"
    assert first.util_pct == 37.5 and first.temperature_c == 41.0
    assert devices.flavor_of(first) == "rbln-atom"


def test_rbln_tool_on_path_is_run_with_json_flag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tool = tmp_path / "rbln-stat"
    tool.write_text(f"#!/bin/sh\n[ \"$1\" = -j ] && cat {DATA / 'rbln_stat.json'}\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin:/bin")
    assert len(devices.rebellions()) == 2
    tool.write_text("#!/bin/sh\necho 'not json'\n")
    assert devices.rebellions() == []  # broken output: absent, not an exception


class _Value:
    def __init__(self, v: Any) -> None:
        self.v = v

    def __str__(self) -> str:
        return str(self.v)


def test_furiosa_bindings_are_read_when_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    info = types.SimpleNamespace(arch=lambda: "Arch.RNGD", uuid=lambda: "f-uuid", name=lambda: "npu0",
                                 driver_version=lambda: _Value("2025.1.0"), firmware_version=lambda: _Value("1.2"))
    pe = [types.SimpleNamespace(pe_usage_percentage=lambda v=v: v) for v in (40.0, 60.0)]
    dev = types.SimpleNamespace(device_info=lambda: info, power_consumption=lambda: 55.5,
                                device_temperature=lambda: types.SimpleNamespace(soc_peak=lambda: 44.0),
                                core_utilization=lambda: types.SimpleNamespace(pe_utilization=lambda: pe))
    fake = types.ModuleType("furiosa_smi_py")
    fake.init = lambda: None  # type: ignore[attr-defined]
    fake.list_devices = lambda: [dev]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "furiosa_smi_py", fake)
    (d,) = devices.furiosa()
    assert d.vendor == "furiosa" and d.model == "FuriosaAI RNGD" and d.uuid == "f-uuid"
    assert d.power_w == 55.5 and d.util_pct == 50.0 and d.temperature_c == 44.0 and d.driver == "2025.1.0"
    assert devices.flavor_of(d) == "furiosa-rngd"

    def broken() -> list[Any]:
        raise RuntimeError("no driver")

    fake.list_devices = broken  # type: ignore[attr-defined]
    assert devices.furiosa() == []


def test_metrics_use_dcgm_names_for_nvidia_and_neutral_names_for_all() -> None:
    found = [
        AcceleratorDevice("nvidia", 0, "NVIDIA H100 80GB HBM3", "GPU-1", 81559, "550.54", util_pct=87.0,
                          power_w=412.5, energy_j=1234.5, memory_used_mb=1000, temperature_c=61.0),
        AcceleratorDevice("rebellions", 0, "RBLN-CA12", "r-1", 16384, "1.3", power_w=38.5),
    ]
    reg = CollectorRegistry()
    gauges = DeviceGauges(reg, probe=lambda: found)
    gauges.refresh()
    text = generate_latest(reg).decode()
    assert 'DCGM_FI_DEV_GPU_UTIL{Hostname=' in text and "87.0" in text
    assert "DCGM_FI_DEV_POWER_USAGE" in text and "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" in text
    assert "1.2345e+06" in text  # J -> mJ, as DCGM counts
    assert 'aicc_device_power_watts{index="0",model="RBLN-CA12",uuid="r-1",vendor="rebellions"} 38.5' in text
    assert 'aicc_devices{vendor="nvidia"} 1.0' in text


def test_npus_populate_an_inventory_the_loader_accepts() -> None:
    from aicc.core.inventory import parse_inventory

    found = [*parse_rbln_json((DATA / "rbln_stat.json").read_text()),
             AcceleratorDevice("furiosa", 0, "FuriosaAI RNGD", "f-1"), devices.cpu()]
    text = devices.inventory_toml(found, host="npu-01.example", cpus=64, memory_gb=512)
    inv = parse_inventory(text, "discovered.toml")
    assert inv.capacity() == {"rbln-atom": 2, "furiosa-rngd": 1}
    assert 'device_env = "RBLN_DEVICES"' in text and 'device_env = "FURIOSA_DEVICES"' in text
    cpu_only = parse_inventory(devices.inventory_toml([devices.cpu()], host="login", cpus=2, memory_gb=8), "x")
    assert cpu_only.capacity() == {"cpu": 2}
