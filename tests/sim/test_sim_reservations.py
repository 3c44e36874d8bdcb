"""The simulator honours reservations (class hours) as the live policy does: a batch job that would run into the
class waits, the class starts on time, and outside the window the capacity is used by others."""

from __future__ import annotations

import math

import pytest

from aicc.sim.center import CenterError, parse_center
from aicc.sim.engine import simulate
from aicc.sim.trace import SimJob, Trace

H = 3600.0
CENTER = """
[site]
name = "school"

[[flavors]]
name = "h100"
vendor = "nvidia"
su_rate = 1.0

[[nodes]]
name = "h"
flavor = "h100"
accelerators = 4
cpus = 32
memory_gb = 256
count = 2

[[projects]]
name = "course"
nominal = { h100 = 0 }
borrowing = { h100 = 0 }

[[projects]]
name = "lab"
nominal = { h100 = 8 }
borrowing = { h100 = 0 }

[[reservations]]
name = "ai-101"
flavor = "h100"
units = 8
project = "course"
start_s = 61200      # 17:00 on the first day
length_s = 10800     # until 20:00
"""


def test_a_1655_batch_job_does_not_delay_the_1700_class_and_runs_after_it() -> None:
    center = parse_center(CENTER, "school.toml")
    jobs = [SimJob(1, "lab", 15 * H, 8, {"h100": 1800}),  # 15:00, half an hour: ends well before it
            SimJob(0, "lab", 17 * H - 300, 8, {"h100": H}),  # 16:55, one hour: would run into the class
            *(SimJob(2 + k, "course", 17 * H, 1, {"h100": 2 * H}) for k in range(8))]  # (indexes: submit order)
    r = simulate(Trace(jobs), center, "aicc")
    assert r.start[0] == 15 * H  # the capacity is used outside the window
    assert all(r.start[2 + k] == 17 * H for k in range(8))  # the class starts on time
    assert r.start[1] >= 19 * H  # the batch job waits until the class's sessions end (19:00)
    assert not r.preemptions


def test_without_the_reservation_the_batch_job_delays_the_class() -> None:
    center = parse_center(CENTER.split("[[reservations]]")[0], "school.toml")
    jobs = [SimJob(0, "lab", 17 * H - 300, 8, {"h100": H}),
            *(SimJob(2 + k, "course", 17 * H, 1, {"h100": 2 * H}) for k in range(8))]
    r = simulate(Trace(jobs), center, "aicc")
    assert r.start[0] == 17 * H - 300 and all(math.isnan(s) or s > 17 * H for s in r.start[1:])


def test_a_malformed_reservation_is_refused_with_where() -> None:
    with pytest.raises(CenterError, match=r"reservations\[0\]"):
        parse_center(CENTER.replace("units = 8", "units = 0"), "school.toml")
