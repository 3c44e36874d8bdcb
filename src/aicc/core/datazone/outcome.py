"""What the project of a sensitive job may learn of how it ended, before the custodian releases the details.

An exit code can carry a byte of the data, a signal a few bits, a run time to
the millisecond many more: a hostile job sets them at will. So until the
custodian approves the job's ``run.json``, its project sees only succeeded or
failed, the stage that failed (the sandbox could not start, or the command
failed, or the time limit or a cancellation stopped it) and the run time in
whole minutes. The only text shown is the server's own: words of the runner
about a sandbox that never started (the job's code never ran, so no byte of it
is job-controlled), never the job's output.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

SANDBOX_NOT_STARTED = "could not start the command"  # the local shepherd's words when the sandbox fails to exec
MAX_SANDBOX_LINES = 5


@dataclass(frozen=True, slots=True)
class Coarse:
    """What replaces the exact fields in the project's view of a held job."""

    reason: str
    started_at: dt.datetime | None
    ended_at: dt.datetime | None


def _minute(t: dt.datetime | None) -> dt.datetime | None:
    return t.replace(second=0, microsecond=0) if t is not None else None


def minutes(started: dt.datetime | None, ended: dt.datetime | None) -> int | None:
    if started is None or ended is None:
        return None
    return max(0, int((ended - started).total_seconds() // 60))


def coarse(state: str, reason: str, started: dt.datetime | None, ended: dt.datetime | None, *,
           cancelled_by_request: bool, sandbox_lines: Sequence[str] | None = None) -> Coarse:
    """The project's view of a finished held job.

    ``sandbox_lines``: the sandbox's own error lines when a trusted record says the job's command never
    started (None when there is no such record: then only the server's own reason can say so)."""
    took = minutes(started, ended)
    after = f" after about {took} min" if took is not None else ""
    held = "; the exact exit status and times are held for the data custodian"
    if state == "succeeded":
        text = f"succeeded{after}{held}"
    elif state == "timed_out":
        text = reason  # the server's words: "killed at its time limit of N s"
    elif state == "cancelled":
        text = reason if cancelled_by_request else "cancelled by the engine"
    elif reason.startswith(SANDBOX_NOT_STARTED) or sandbox_lines is not None:
        lines = [ln.strip()[:200] for ln in (sandbox_lines or [reason]) if ln.strip()][-MAX_SANDBOX_LINES:]
        text = "failed: the sandbox could not start, your command never ran (" + " / ".join(lines) + ")"
    else:
        text = f"failed: your command ended with an error (a non-zero exit or a signal){after}{held}"
    return Coarse(text, _minute(started), _minute(ended))


def sandbox_never_started(status_lines: Sequence[str]) -> bool | None:
    """From bubblewrap's ``--json-status-fd`` record (one JSON object a line): True when it never reported
    the child's pid (setup failed before the command), False when it did, None for no record."""
    if not status_lines:
        return None
    return not any('"child-pid"' in ln for ln in status_lines)
