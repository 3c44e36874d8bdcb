"""The NVIDIA path without a GPU: a stand-in ``pynvml`` with NVML's calls and units (mW, mJ, bytes)."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from aicc.testbed import devices
from aicc.testbed.energy import nvidia_reader


class NVMLError(Exception):
    pass


def fake_nvml(energy_mj: list[int], *, mig_supported: bool = True) -> types.ModuleType:
    m = types.ModuleType("pynvml")
    gpus = {0: "GPU-aaaa", 1: "GPU-bbbb"}

    def handle(i: int) -> int:
        return i

    def by_uuid(u: str) -> int:
        return next(i for i, x in gpus.items() if x == u)

    def mig(h: int) -> list[int]:
        if not mig_supported:
            raise NVMLError("not supported")
        return [1, 1] if h == 1 else [0, 0]

    def energy(h: int) -> int:
        energy_mj[h] += 1000 * (h + 1)  # 1 J, 2 J per read
        return energy_mj[h]

    attrs: dict[str, Any] = {
        "NVMLError": NVMLError, "nvmlInit": lambda: None, "nvmlShutdown": lambda: None,
        "nvmlSystemGetDriverVersion": lambda: b"580.95.05", "nvmlDeviceGetCount": lambda: 2,
        "nvmlDeviceGetHandleByIndex": handle, "nvmlDeviceGetHandleByUUID": by_uuid,
        "nvmlDeviceGetName": lambda h: "NVIDIA H100 80GB HBM3" if h == 0 else "NVIDIA A100-SXM4-40GB",
        "nvmlDeviceGetUUID": lambda h: gpus[h],
        "nvmlDeviceGetMemoryInfo": lambda h: types.SimpleNamespace(total=80 * 2**30, used=3 * 2**30),
        "nvmlDeviceGetUtilizationRates": lambda h: types.SimpleNamespace(gpu=90 + h, memory=40),
        "nvmlDeviceGetMigMode": mig, "nvmlDeviceGetPowerUsage": lambda h: 350_500,
        "nvmlDeviceGetTotalEnergyConsumption": energy, "nvmlDeviceGetTemperature": lambda h, sensor: 60,
    }
    for k, v in attrs.items():
        setattr(m, k, v)
    return m


def test_nvml_figures_are_read_in_their_units(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml([0, 0]))
    h100, a100 = devices.nvidia()
    assert h100.model == "NVIDIA H100 80GB HBM3" and h100.driver == "580.95.05" and h100.uuid == "GPU-aaaa"
    assert h100.memory_mb == 81920 and h100.memory_used_mb == 3072 and h100.util_pct == 90.0
    assert h100.power_w == 350.5 and h100.energy_j == 1.0 and h100.temperature_c == 60.0
    assert h100.mig_enabled is False and a100.mig_enabled is True
    assert [devices.flavor_of(d) for d in (h100, a100)] == ["h100", "a100"]
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml([0, 0], mig_supported=False))
    assert devices.nvidia()[0].mig_enabled is None  # a GPU without MIG: unknown, not an error


def test_energy_reader_sums_the_jobs_gpus_by_index_or_uuid(monkeypatch: pytest.MonkeyPatch) -> None:
    counters = [0, 0]
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(counters))
    read = nvidia_reader(["GPU-bbbb", 0])
    assert read is not None
    joules, watts = read()
    assert joules == 3.0 and watts == 701.0  # 2 J + 1 J; two boards at 350.5 W
    assert read()[0] == 6.0
    assert nvidia_reader(["GPU-none"]) is None
