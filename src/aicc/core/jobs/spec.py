"""What users type for a job's size, as sbatch accepts it: time limits, memory, array indexes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aicc.core.errors import InvalidInput

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MEM_UNITS = {"": 1, "m": 1, "mb": 1, "mi": 1, "mib": 1, "g": 1024, "gb": 1024, "gi": 1024, "gib": 1024,
              "t": 1024 * 1024, "tb": 1024 * 1024, "ti": 1024 * 1024, "tib": 1024 * 1024}


def parse_time_limit(text: str) -> int:
    """Seconds from ``2h``, ``90m``, ``45s``, ``1d``, ``30`` (minutes, as sbatch), ``1:30:00``, ``1-12:00:00``."""
    t = text.strip().lower()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd])", t)
    if m:
        seconds = round(float(m.group(1)) * _UNIT_SECONDS[m.group(2)])
    else:
        m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", t)
        if not m:
            raise ValueError(f"{text!r} is not a time limit (try 2h, 90m, 1-00:00:00)")
        days = int(m.group(1) or 0)
        parts = [int(p) for p in m.group(2, 3, 4) if p is not None]
        if m.group(1) is not None:  # D-H[:M[:S]]
            h, mi, s = [*parts, 0, 0][:3]
        elif len(parts) == 1:  # minutes
            h, mi, s = 0, parts[0], 0
        elif len(parts) == 2:  # M:S
            h, mi, s = 0, parts[0], parts[1]
        else:
            h, mi, s = parts
        seconds = days * 86400 + h * 3600 + mi * 60 + s
    if seconds <= 0:
        raise ValueError(f"{text!r}: a time limit must be positive")
    return seconds


def parse_memory(text: str) -> int:
    """MB from ``64G``, ``512M``, ``2T``, ``4096`` (MB, as sbatch)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _MEM_UNITS:
        raise ValueError(f"{text!r} is not an amount of memory (try 64G or 512M)")
    mb = round(float(m.group(1)) * _MEM_UNITS[m.group(2).lower()])
    if mb <= 0:
        raise ValueError(f"{text!r}: memory must be positive")
    return mb


@dataclass(frozen=True, slots=True)
class ArraySpec:
    indexes: tuple[int, ...]
    max_running: int | None


def parse_array(text: str, *, limit: int = 10_000) -> ArraySpec:
    """Slurm's ``--array``: ``0-99``, ``1,3,5-7``, ``0-15:4`` (step), ``0-99%10`` (at most 10 at once)."""
    spec, _, throttle = text.strip().partition("%")
    max_running = None
    if throttle:
        if not throttle.isdigit() or int(throttle) < 1:
            raise InvalidInput(f"array {text!r}: the number after % must be a positive integer")
        max_running = int(throttle)
    indexes: set[int] = set()
    for part in spec.split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", part)
        if not m:
            raise InvalidInput(f"array {text!r}: {part!r} is not an index or a range like 0-99")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        step = int(m.group(3)) if m.group(3) is not None else 1
        if hi < lo or step < 1:
            raise InvalidInput(f"array {text!r}: range {part!r} is empty")
        if hi > 4_000_000 or (hi - lo) // step + 1 + len(indexes) > limit:
            raise InvalidInput(f"array {text!r}: at most {limit} tasks in one array")
        indexes.update(range(lo, hi + 1, step))
    return ArraySpec(tuple(sorted(indexes)), max_running)
