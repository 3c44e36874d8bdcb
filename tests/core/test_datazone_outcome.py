"""What the project of a held job learns of how it ended: coarse, and never a byte the job chose."""

from __future__ import annotations

import datetime as dt

from aicc.core.datazone.outcome import coarse, sandbox_never_started

T0 = dt.datetime(2026, 12, 3, 9, 0, 7, 123456, tzinfo=dt.UTC)


def test_a_failed_command_shows_failed_and_whole_minutes_only() -> None:
    c = coarse("failed", "exited with code 43", T0, T0 + dt.timedelta(seconds=161.9), cancelled_by_request=False)
    assert "43" not in c.reason and "after about 2 min" in c.reason and "your command ended with an error" in c.reason
    assert c.started_at == T0.replace(second=0, microsecond=0) and c.ended_at is not None
    assert c.ended_at.second == 0 and c.ended_at.microsecond == 0
    killed = coarse("failed", "killed by signal SIGSEGV", T0, T0, cancelled_by_request=False)
    assert "SIGSEGV" not in killed.reason and killed.reason.startswith("failed: your command")


def test_a_sandbox_that_never_started_says_so_with_the_runners_lines_only() -> None:
    shepherd = coarse("failed", "could not start the command: [Errno 2] No such file: 'bwrap'", T0, T0,
                      cancelled_by_request=False)
    assert "the sandbox could not start" in shepherd.reason and "bwrap" in shepherd.reason
    lines = ["bwrap: Can't mount proc on /newroot/proc: Operation not permitted"]
    bwrap = coarse("failed", "exited with code 1", T0, T0, cancelled_by_request=False, sandbox_lines=lines)
    assert "Can't mount proc" in bwrap.reason and "code 1" not in bwrap.reason
    assert sandbox_never_started(['{"child-pid": 12}', '{"exit-code": 3}']) is False
    assert sandbox_never_started(["{}"]) is True and sandbox_never_started([]) is None


def test_success_time_limit_and_cancellation_use_the_servers_words() -> None:
    assert coarse("succeeded", "completed", T0, T0 + dt.timedelta(minutes=5), cancelled_by_request=False
                  ).reason.startswith("succeeded after about 5 min")
    assert coarse("timed_out", "killed at its time limit of 60 s", T0, T0, cancelled_by_request=False
                  ).reason == "killed at its time limit of 60 s"
    assert coarse("cancelled", "cancelled by dana", T0, T0, cancelled_by_request=True).reason == "cancelled by dana"
    assert coarse("cancelled", "exit 9", T0, T0, cancelled_by_request=False).reason == "cancelled by the engine"
