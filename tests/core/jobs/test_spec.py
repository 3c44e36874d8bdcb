"""What users type for time, memory and arrays means what sbatch users expect."""

from __future__ import annotations

import pytest

from aicc.core.errors import Conflict, InvalidInput
from aicc.core.jobs import JobEvent, JobState, parse_array, parse_memory, parse_time_limit, transition


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2h", 7200), ("90m", 5400), ("45s", 45), ("1d", 86400), ("1.5h", 5400), ("30", 1800), ("1:30", 90),
     ("1:30:00", 5400), ("1-00:00:00", 86400), ("2-12", 2 * 86400 + 12 * 3600)],
)
def test_time_limits(text: str, seconds: int) -> None:
    assert parse_time_limit(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "0", "-5m", "2x", "1:2:3:4"])
def test_bad_time_limits(text: str) -> None:
    with pytest.raises(ValueError, match=r"time limit|positive"):
        parse_time_limit(text)


@pytest.mark.parametrize(("text", "mb"), [("64G", 65536), ("512M", 512), ("4096", 4096), ("1T", 1048576),
                                          ("1.5g", 1536), ("2GiB", 2048)])
def test_memory(text: str, mb: int) -> None:
    assert parse_memory(text) == mb


@pytest.mark.parametrize("text", ["lots", "64X", "0", "-1G"])
def test_bad_memory(text: str) -> None:
    with pytest.raises(ValueError, match="memory"):
        parse_memory(text)


def test_arrays() -> None:
    assert parse_array("0-3").indexes == (0, 1, 2, 3)
    assert parse_array("1,3,5-7") == parse_array("5-7,3,1")
    assert parse_array("0-15:4%2").indexes == (0, 4, 8, 12) and parse_array("0-15:4%2").max_running == 2
    assert len(parse_array("0-9999").indexes) == 10_000


@pytest.mark.parametrize("text", ["0-10000", "5-1", "a-b", "1,,2", "0-9%0", "0-4000000000"])
def test_bad_arrays(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_array(text)


def test_transitions() -> None:
    assert transition(JobState.PENDING, JobEvent.ADMIT) is JobState.ADMITTED
    assert transition(JobState.RUNNING, JobEvent.REQUEUE) is JobState.PENDING
    with pytest.raises(Conflict, match="a succeeded job cannot start"):
        transition(JobState.SUCCEEDED, JobEvent.START)
    assert all(s.finished for s in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.TIMED_OUT))
