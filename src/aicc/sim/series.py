"""A time-weighted step series in a bounded number of bins (memory independent of the trace length).

When the clock passes the last bin, bins merge pairwise and their width doubles, so a million
events cost the same few hundred floats as a thousand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

BINS = 256


@dataclass(slots=True)
class StepSeries:
    width: float = 60.0
    sums: list[float] = field(default_factory=lambda: [0.0] * BINS)
    value: float = 0.0
    since: float = 0.0
    end: float = 0.0

    def set(self, t: float, value: float) -> None:
        """The series holds ``value`` from ``t`` on (times never go backwards)."""
        if value != self.value:
            self._add(self.since, t, self.value)
            self.since, self.value = t, value
        if t > self.end:
            self.end = t

    def _add(self, t0: float, t1: float, v: float) -> None:
        if t1 <= t0 or v == 0.0:
            return
        while t1 > self.width * BINS:
            self.sums = [self.sums[i] + self.sums[i + 1] for i in range(0, BINS, 2)] + [0.0] * (BINS // 2)
            self.width *= 2
        i = int(t0 // self.width)
        while t0 < t1:
            edge = min((i + 1) * self.width, t1)
            self.sums[i] += v * (edge - t0)
            t0 = edge
            i += 1

    def averages(self, until: float | None = None) -> tuple[float, list[float]]:
        """(bin width, mean value per bin) up to ``until`` (default: the last time seen)."""
        end = self.end if until is None else until
        self._add(self.since, end, self.value)
        self.since = end
        n = max(1, min(BINS, int(-(-end // self.width))))
        return self.width, [s / self.width for s in self.sums[:n]]
