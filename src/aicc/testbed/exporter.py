"""Device figures on ``/metrics``: NVIDIA under DCGM exporter's names, every vendor under ``aicc_device_*``.

DCGM's names (``DCGM_FI_DEV_GPU_UTIL``, ``DCGM_FI_DEV_POWER_USAGE``, ``DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION``
in mJ, ``DCGM_FI_DEV_FB_USED`` in MiB, ``DCGM_FI_DEV_GPU_TEMP``) let dashboards built for dcgm-exporter work
unchanged; NPUs have no common standard, so they share vendor-neutral ``aicc_device_*`` gauges with a
``vendor`` label. Probing is cached for a few seconds: scrapes must not hammer NVML or run ``rbln-stat`` each time.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge

from aicc.testbed.devices import AcceleratorDevice, all_devices

DCGM = {
    "util_pct": ("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", 1.0),
    "power_w": ("DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", 1.0),
    "energy_j": ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "Total energy consumption since boot (in mJ).", 1000.0),
    "memory_used_mb": ("DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).", 1.0),
    "temperature_c": ("DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).", 1.0),
}
NEUTRAL = {
    "util_pct": ("aicc_device_utilization_percent", "Accelerator utilization, any vendor (%)."),
    "power_w": ("aicc_device_power_watts", "Accelerator board power, any vendor (W)."),
    "energy_j": ("aicc_device_energy_joules_total", "Cumulative board energy where the vendor counts it (J)."),
    "memory_used_mb": ("aicc_device_memory_used_mebibytes", "Device memory used (MiB)."),
    "temperature_c": ("aicc_device_temperature_celsius", "Device temperature (C)."),
}
DCGM_LABELS = ["gpu", "UUID", "device", "modelName", "Hostname"]
NEUTRAL_LABELS = ["vendor", "index", "model", "uuid"]


class DeviceGauges:
    def __init__(self, registry: CollectorRegistry, probe: Callable[[], list[AcceleratorDevice]] = all_devices,
                 ttl_s: float = 5.0) -> None:
        self.probe = probe
        self.ttl_s = ttl_s
        self._at = -1e9
        self._lock = threading.Lock()
        self.dcgm = {k: Gauge(name, doc, DCGM_LABELS, registry=registry) for k, (name, doc, _) in DCGM.items()}
        self.neutral = {k: Gauge(name, doc, NEUTRAL_LABELS, registry=registry) for k, (name, doc) in NEUTRAL.items()}
        self.count = Gauge("aicc_devices", "Accelerators found on the server's host, by vendor", ["vendor"],
                           registry=registry)

    def refresh(self) -> None:
        with self._lock:
            if time.monotonic() - self._at < self.ttl_s:
                return
            self._at = time.monotonic()
            try:
                found = self.probe()
            except Exception:
                found = []
            for g in (*self.dcgm.values(), *self.neutral.values(), self.count):
                g.clear()
            host = socket.gethostname()
            by_vendor: dict[str, int] = {}
            for d in found:
                by_vendor[d.vendor] = by_vendor.get(d.vendor, 0) + 1
                for key in NEUTRAL:
                    value = getattr(d, key)
                    if value is None:
                        continue
                    self.neutral[key].labels(d.vendor, str(d.index), d.model, d.uuid).set(value)
                    if d.vendor == "nvidia":
                        scale = DCGM[key][2]
                        self.dcgm[key].labels(str(d.index), d.uuid, f"nvidia{d.index}", d.model, host).set(
                            value * scale)
            for vendor, n in by_vendor.items():
                self.count.labels(vendor).set(n)
