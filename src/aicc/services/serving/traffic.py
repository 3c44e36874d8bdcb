"""Requests in flight per service, counted by the gateway and read by the autoscaler in the same process.

The gateway runs on the event loop's thread and the supervisor on its own; an ``int`` updated under the GIL
and read as a snapshot needs no lock. With several API servers each sees only its own traffic: the
autoscaler then scales on the leader's share (noted in DESIGN.md as what is left).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict


class Traffic:
    def __init__(self) -> None:
        self.in_flight: defaultdict[int, int] = defaultdict(int)
        self._area: defaultdict[int, float] = defaultdict(float)
        self._last: dict[int, float] = {}
        self._since = time.monotonic()
        self._lock = threading.Lock()

    def _advance(self, service_id: int, now: float) -> None:
        last = self._last.get(service_id, self._since)
        self._area[service_id] += self.in_flight[service_id] * (now - last)
        self._last[service_id] = now

    def begin(self, service_id: int) -> None:
        with self._lock:
            self._advance(service_id, time.monotonic())
            self.in_flight[service_id] += 1

    def end(self, service_id: int) -> None:
        with self._lock:
            self._advance(service_id, time.monotonic())
            self.in_flight[service_id] -= 1

    def average(self) -> dict[int, float]:
        """Mean requests in flight per service since the last call (time-weighted), and start a new window."""
        with self._lock:
            now = time.monotonic()
            span = max(now - self._since, 1e-6)
            for sid in list(self.in_flight):
                self._advance(sid, now)
            out = {sid: area / span for sid, area in self._area.items()}
            self._area.clear()
            self._since = now
            self._last = {sid: now for sid in self._last}
            return out
