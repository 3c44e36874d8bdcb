"""A counter bumped whenever data that submission checks cache changes in this process.

Projects, allocations and the inventory change rarely; the fast submission path
caches them and compares this counter to know, within this process, the moment
its copy is stale. Other processes (several API servers on PostgreSQL) fall back
to the cache's time-to-live.
"""

from __future__ import annotations

import itertools

_counter = itertools.count(1)
_current = 0


def bump() -> None:
    global _current
    _current = next(_counter)


def current() -> int:
    return _current
