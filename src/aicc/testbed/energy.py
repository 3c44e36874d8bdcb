"""Energy over LoadGen's power window, from an energy counter where the board has one, else from power samples.

This is **accelerator-board energy** (or CPU-package energy from RAPL), read from the device's own sensors:
it is *not* MLPerf Power, which needs an external, calibrated analyser on the wall plug (SPEC PTDaemon).
Every figure carries that label so nobody compares it with an MLPerf Power submission.

The arithmetic (``counter_energy``, ``integrated_energy``) is pure; ``Sampler`` is the thread that reads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

BOARD_LABEL = "accelerator-board energy from the device's own sensors; not MLPerf Power"
RAPL_LABEL = "CPU-package energy (RAPL); not MLPerf Power"

Reading = tuple[float | None, float | None]
"""(cumulative energy in J or None, power in W or None) at one instant."""


def _interpolate(samples: Sequence[tuple[float, float]], t: float) -> float | None:
    if not samples or t < samples[0][0] or t > samples[-1][0]:
        return None
    for (t0, v0), (t1, v1) in pairwise(samples):
        if t0 <= t <= t1:
            return v0 if t1 == t0 else v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    return samples[-1][1]


def counter_energy(samples: Sequence[tuple[float, float]], begin: float, end: float) -> float | None:
    """Joules between ``begin`` and ``end`` from (time, cumulative J) samples, interpolated at both ends.

    None when the samples do not cover the window, or the counter went backwards (driver reload, wrap):
    a wrong number would be worse than none.
    """
    a, b = _interpolate(samples, begin), _interpolate(samples, end)
    if a is None or b is None or b < a:
        return None
    return b - a


def integrated_energy(samples: Sequence[tuple[float, float]], begin: float, end: float) -> float | None:
    """Joules between ``begin`` and ``end`` by the trapezoid rule over (time, W) samples clipped to the window."""
    if len(samples) < 2 or begin >= end or samples[0][0] > begin or samples[-1][0] < end:
        return None
    points = [(begin, _interpolate(samples, begin) or 0.0)]
    points += [(t, w) for t, w in samples if begin < t < end]
    points.append((end, _interpolate(samples, end) or 0.0))
    return sum((t1 - t0) * (w0 + w1) / 2 for (t0, w0), (t1, w1) in pairwise(points))


@dataclass(frozen=True, slots=True)
class Energy:
    joules: float
    source: str
    """"counter" (difference of a cumulative counter) or "power-samples" (integrated)."""
    label: str
    window_s: float


class Sampler:
    """Polls ``read`` every ``interval_s`` on a daemon thread, with wall-clock times (LoadGen's window is
    wall-clock)."""

    def __init__(self, read: Callable[[], Reading], label: str, interval_s: float = 0.05) -> None:
        self.read = read
        self.label = label
        self.interval_s = interval_s
        self.counter: list[tuple[float, float]] = []
        self.power: list[tuple[float, float]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="energy-sampler", daemon=True)

    def _sample(self) -> None:
        try:
            joules, watts = self.read()
        except Exception:
            return
        with self._lock:
            now = time.time()
            if joules is not None:
                self.counter.append((now, joules))
            if watts is not None:
                self.power.append((now, watts))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval_s)

    def __enter__(self) -> Sampler:
        self._sample()  # at once, not when the thread first runs: the window must be covered from its start
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sample()

    def energy(self, begin: float, end: float) -> Energy | None:
        """Energy over [begin, end]; asked right after a scenario, so read once more to cover its end."""
        if not self.counter or self.counter[-1][0] < end or not self.power or self.power[-1][0] < end:
            self._sample()
        with self._lock:
            counter, power = sorted(self.counter), sorted(self.power)
        joules = counter_energy(counter, begin, end)
        if joules is not None:
            return Energy(joules, "counter", self.label, end - begin)
        joules = integrated_energy(power, begin, end)
        if joules is not None:
            return Energy(joules, "power-samples", self.label, end - begin)
        return None


def nvidia_reader(devices: Sequence[int | str]) -> Callable[[], Reading] | None:
    """Sum of the energy counters (and power) of the job's GPUs, or None where NVML is absent.

    ``devices`` as CUDA_VISIBLE_DEVICES lists them: indexes, or UUIDs (``GPU-…``, also MIG's ``MIG-…``).
    """
    try:
        import pynvml

        pynvml.nvmlInit()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(d) if isinstance(d, int) else pynvml.nvmlDeviceGetHandleByUUID(d)
                   for d in devices]
    except Exception:
        return None
    if not handles:
        return None

    def read() -> Reading:
        joules: float | None = 0.0
        watts: float | None = 0.0
        for h in handles:
            try:
                joules = None if joules is None else joules + pynvml.nvmlDeviceGetTotalEnergyConsumption(h) / 1e3
            except pynvml.NVMLError:
                joules = None
            try:
                watts = None if watts is None else watts + pynvml.nvmlDeviceGetPowerUsage(h) / 1e3
            except pynvml.NVMLError:
                watts = None
        return joules, watts

    return read


RAPL = Path("/sys/class/powercap/intel-rapl:0/energy_uj")


def rapl_reader(path: Path = RAPL) -> Callable[[], Reading] | None:
    """CPU package energy where the kernel exposes RAPL to this user (often not in VMs or containers)."""
    try:
        int(path.read_text())
    except (OSError, ValueError):
        return None
    return lambda: (int(path.read_text()) / 1e6, None)
