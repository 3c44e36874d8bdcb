"""Accelerators on this machine, per vendor, with the live figures a benchmark and /metrics need.

Each vendor's probe treats "tool absent, library absent, driver absent, no device" as *no devices*, never
as an error: the same code runs on a CPU-only login node, an H100 node and an NPU node.

- NVIDIA: NVML (``nvidia-ml-py``): model, UUID, memory, driver, MIG mode, utilization, power and the
  board's cumulative energy counter (the counter DCGM exports as ``DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION``).
- FuriosaAI: the ``furiosa_smi_py`` bindings (``list_devices()``) when importable.
- Rebellions: ``rbln-stat -j`` (or ``rbln-smi -j``) JSON when on PATH.
- CPU: always, from ``os`` and ``/proc``.

Parsing of vendor output is separate from calling the vendor (``parse_rbln_json``), so it is tested on
recorded samples.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class AcceleratorDevice:
    vendor: str
    """"nvidia", "furiosa", "rebellions" or "cpu"."""
    index: int
    model: str
    uuid: str = ""
    memory_mb: int = 0
    driver: str = ""
    firmware: str = ""
    mig_enabled: bool | None = None
    util_pct: float | None = None
    power_w: float | None = None
    energy_j: float | None = None
    """Cumulative board energy since the driver loaded (NVIDIA); None where the vendor has no counter."""
    memory_used_mb: int | None = None
    temperature_c: float | None = None
    extra: dict[str, str] = field(default_factory=dict)


# -- NVIDIA ------------------------------------------------------------------------------------------

@contextlib.contextmanager
def nvml_session() -> Iterator[Any]:
    """``pynvml``, initialised for the block and shut down after; None where there is no pynvml, no driver or
    no GPU. Read lazily, so a machine without them pays nothing (the testbed and the inventory's MIG
    discovery, ``executors.discovery.nvml_slices``, both open NVML this way)."""
    try:
        import pynvml
    except ImportError:
        yield None
        return
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        yield None
        return
    try:
        yield pynvml
    finally:
        pynvml.nvmlShutdown()


def nvidia() -> list[AcceleratorDevice]:
    with nvml_session() as pynvml:
        if pynvml is None:
            return []
        driver = _text(_nvml(pynvml.nvmlSystemGetDriverVersion) or "")
        return [_nvidia_device(pynvml, i, driver) for i in range(pynvml.nvmlDeviceGetCount())]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _nvml(fn: Any, *args: Any) -> Any:
    """One NVML query; a field this GPU or driver does not support reads as None."""
    import pynvml

    try:
        return fn(*args)
    except pynvml.NVMLError:
        return None


def _nvidia_device(pynvml: Any, i: int, driver: str) -> AcceleratorDevice:
    h = pynvml.nvmlDeviceGetHandleByIndex(i)
    mem = _nvml(pynvml.nvmlDeviceGetMemoryInfo, h)
    util = _nvml(pynvml.nvmlDeviceGetUtilizationRates, h)
    mig = _nvml(pynvml.nvmlDeviceGetMigMode, h)
    power_mw = _nvml(pynvml.nvmlDeviceGetPowerUsage, h)
    energy_mj = _nvml(pynvml.nvmlDeviceGetTotalEnergyConsumption, h)
    temp = _nvml(pynvml.nvmlDeviceGetTemperature, h, 0)  # NVML_TEMPERATURE_GPU
    return AcceleratorDevice(
        "nvidia", i, _text(pynvml.nvmlDeviceGetName(h)), _text(pynvml.nvmlDeviceGetUUID(h)),
        int(mem.total // 2**20) if mem else 0, driver, "",
        bool(mig[0]) if mig else None,
        float(util.gpu) if util else None,
        power_mw / 1000.0 if power_mw is not None else None,
        energy_mj / 1000.0 if energy_mj is not None else None,
        int(mem.used // 2**20) if mem else None,
        float(temp) if temp is not None else None)


# -- FuriosaAI ---------------------------------------------------------------------------------------

def furiosa() -> list[AcceleratorDevice]:
    try:
        import furiosa_smi_py as smi
    except ImportError:
        return []
    try:
        if hasattr(smi, "init"):
            smi.init()
        devices = list(smi.list_devices())
    except Exception:
        return []
    return [furiosa_device(i, d) for i, d in enumerate(devices)]


def _call(obj: Any, name: str) -> Any:
    fn = getattr(obj, name, None)
    if fn is None:
        return None
    try:
        return fn() if callable(fn) else fn
    except Exception:
        return None


def furiosa_device(index: int, device: Any) -> AcceleratorDevice:
    """One device from ``furiosa_smi_py``; every figure is optional because bindings differ by release."""
    info = _call(device, "device_info")
    arch = _text(_call(info, "arch") or "rngd").split(".")[-1]
    power = _call(device, "power_consumption")
    temp = _call(device, "device_temperature")
    util = _call(device, "core_utilization")
    util_pct = None
    if util is not None:
        pe = _call(util, "pe_utilization") or []
        values = [float(_call(p, "pe_usage_percentage") or 0.0) for p in pe]
        util_pct = sum(values) / len(values) if values else None
    return AcceleratorDevice(
        "furiosa", index, f"FuriosaAI {arch.upper()}", _text(_call(info, "uuid") or ""), 0,
        _text(_call(_call(info, "driver_version"), "__str__") or ""),
        _text(_call(_call(info, "firmware_version"), "__str__") or ""),
        None, util_pct, float(power) if power is not None else None, None, None,
        float(_call(temp, "soc_peak") or 0.0) if temp is not None else None)


# -- Rebellions --------------------------------------------------------------------------------------

RBLN_TOOLS = ("rbln-stat", "rbln-smi")


def _number(text: str) -> tuple[float | None, str]:
    m = re.match(r"\s*([-+]?\d+(?:\.\d+)?)\s*([A-Za-z%]*)", str(text))
    return (float(m.group(1)), m.group(2)) if m else (None, "")


def _watts(text: str) -> float | None:
    value, unit = _number(text)
    if value is None:
        return None
    return value / 1000.0 if unit.lower() == "mw" else value


def parse_rbln_json(text: str) -> list[AcceleratorDevice]:
    """``rbln-stat -j`` output → devices. Numbers arrive as strings with units ("45C", "41.8W", "1200mW")."""
    data = json.loads(text)
    kmd = str(data.get("KMD_version", ""))
    out = []
    for i, d in enumerate(data.get("devices", [])):
        mem = d.get("memory") or {}
        total, used = _number(mem.get("total", "0"))[0], _number(mem.get("used", "0"))[0]
        util, _ = _number(d.get("util", ""))
        temp, _ = _number(d.get("temperature", ""))
        out.append(AcceleratorDevice(
            "rebellions", int(_number(str(d.get("npu", i)))[0] or i), str(d.get("name", "RBLN")),
            str(d.get("uuid", "")), int((total or 0) // 2**20), kmd, str(d.get("fw_ver", "")), None, util,
            _watts(d.get("card_power", "")), None, int((used or 0) // 2**20) if used is not None else None, temp,
            {"status": str(d.get("status", "")), "bus_id": str((d.get("pci") or {}).get("bus_id", ""))}))
    return out


def rebellions(timeout_s: float = 5.0) -> list[AcceleratorDevice]:
    for tool in RBLN_TOOLS:
        path = shutil.which(tool)
        if path is None:
            continue
        try:
            done = subprocess.run([path, "-j"], capture_output=True, text=True, timeout=timeout_s, check=False)
            if done.returncode == 0:
                return parse_rbln_json(done.stdout)
        except (OSError, subprocess.TimeoutExpired, ValueError, KeyError, TypeError):
            continue
    return []


# -- CPU ---------------------------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu() -> AcceleratorDevice:
    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return AcceleratorDevice("cpu", 0, cpu_model(), "", 0, platform.release(), "", None,
                             min(100.0, 100.0 * load / cores) if load is not None else None,
                             extra={"cores": str(cores)})


def all_devices() -> list[AcceleratorDevice]:
    """Every accelerator found, then the CPU (always present)."""
    return [*nvidia(), *furiosa(), *rebellions(), cpu()]


FLAVOR_BY_VENDOR = {"furiosa": "furiosa-rngd", "rebellions": "rbln-atom", "cpu": "cpu"}


def flavor_of(device: AcceleratorDevice) -> str:
    if device.vendor == "nvidia":
        from aicc.executors.discovery import flavor_for

        return flavor_for(device.model)
    if device.vendor == "furiosa" and "warboy" in device.model.lower():
        return "furiosa-warboy"
    return FLAVOR_BY_VENDOR.get(device.vendor, device.vendor)


DEVICE_ENV = {"nvidia": "CUDA_VISIBLE_DEVICES", "rebellions": "RBLN_DEVICES", "furiosa": "FURIOSA_DEVICES"}
"""The variable each vendor's runtime reads to select devices (what AICC sets for a placed job)."""


def inventory_toml(found: list[AcceleratorDevice], *, host: str | None = None, cpus: int | None = None,
                   memory_gb: int | None = None) -> str:
    """Inventory tables for this host from every vendor's devices: one flavor per device model, one node per
    flavor; a host with no accelerator is described as a CPU node. For the operator to review, then load."""
    import socket

    host = (host or socket.gethostname()).split(".")[0].lower()
    cpus = cpus or os.cpu_count() or 1
    if memory_gb is None:
        memory_gb = max(1, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 1024**3)
    node = re.sub(r"[^a-z0-9-]+", "-", host).strip("-") or "node"
    accelerators = [d for d in found if d.vendor != "cpu"]
    by_flavor: dict[str, list[AcceleratorDevice]] = {}
    for d in accelerators:
        by_flavor.setdefault(flavor_of(d), []).append(d)
    lines = ["[site]", f'name = "{node}"', 'executor = "local"', ""]
    for flavor, devs in by_flavor.items():
        lines += ["[[flavors]]", f'name = "{flavor}"', f'vendor = "{devs[0].vendor}"']
        if devs[0].memory_mb:
            lines.append(f"memory_gb = {max(1, round(devs[0].memory_mb / 1024))}")
        lines += [f'device_env = "{DEVICE_ENV.get(devs[0].vendor, "CUDA_VISIBLE_DEVICES")}"',
                  "su_rate = 1.0  # set the center's rate", ""]
    for flavor, devs in by_flavor.items():
        lines += ["[[nodes]]", f'name = "{node}-{flavor}"'[:70], f'flavor = "{flavor}"',
                  f"accelerators = {len(devs)}", f"cpus = {cpus}", f"memory_gb = {memory_gb}", ""]
    if not accelerators:
        lines += ["[[flavors]]", 'name = "cpu"', 'vendor = "cpu"', "su_rate = 0.02", "",
                  "[[nodes]]", f'name = "{node}"', 'flavor = "cpu"', "accelerators = 0", f"cpus = {cpus}",
                  f"memory_gb = {memory_gb}", ""]
    return "\n".join(lines)
