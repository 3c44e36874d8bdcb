"""Slurm's two records of a job, parsed into one shape.

While a job lives (and for ``MinJobAge`` seconds after), ``squeue --json``
knows it, with times as Unix seconds and the exit code as a raw wait status.
After that only the ``jobcomp/filetxt`` log does, one ``Key=value`` line per
finished job with times in the *cluster's local time zone* (no offset written)
and the exit code as ``code:signal``. Metering bills from these times, so both
paths must give the same Unix seconds for the same job.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class SlurmJobRecord:
    job_id: int
    name: str
    state: str  # Slurm's base state, upper case: PENDING, RUNNING, NODE_FAIL, ...
    nodes: str  # Slurm host list expression, "" when not yet placed
    start_time: float | None
    end_time: float | None
    exit_code: int | None  # exit status, or 128 + signal when killed by a signal
    reason: str  # Slurm's pending/failure reason ("Resources", "NonZeroExitCode"), may be ""
    time_limit_min: int | None
    array_job_id: int | None = None  # a task of an array: the array's id ...
    array_task_id: int | None = None  # ... and its index; None for the array's tasks not yet split off
    array_pending: str = ""  # those tasks, as Slurm writes them ("3-199", "0,4-7%2")
    memory_mb: int | None = None  # the memory the job was given per node (--mem): an OOM reason names it
    comment: str = ""  # the job's comment: a multi-node batch step records its failed rank there (gang.py)

    @property
    def array_key(self) -> tuple[int, int] | None:
        if self.array_job_id is None or self.array_task_id is None:
            return None
        return self.array_job_id, self.array_task_id


NOT_AN_ARRAY = 4294967294  # NO_VAL - 1: what 22.05 writes for "no array" in some fields


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, dict):
        value = value.get("number")
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or value < 0 or value >= NOT_AN_ARRAY:
        return None
    return value


def task_in(tasks: str, index: int) -> bool:
    """Is ``index`` among Slurm's task expression ``tasks`` ("0-3", "[2,5-9:2]%4")?"""
    body = tasks.strip().strip("[]").split("%")[0].rstrip("]")
    for part in body.split(","):
        if not part:
            continue
        span, _, step_text = part.partition(":")
        first, _, last = span.partition("-")
        try:
            lo, hi, step = int(first), int(last or first), int(step_text or 1)
        except ValueError:
            continue
        if lo <= index <= hi and (index - lo) % max(step, 1) == 0:
            return True
    return False


def _epoch(value: Any) -> float | None:
    """squeue gives 0 for "not yet"; 22.05 sometimes wraps numbers as {"number": n}."""
    if isinstance(value, dict):
        value = value.get("number")
    if not isinstance(value, int | float) or value <= 0:
        return None
    return float(value)


def _wait_status(raw: Any) -> int | None:
    """squeue's ``exit_code`` is the raw wait(2) status: 768 means exit 3, 9 means SIGKILL."""
    if isinstance(raw, dict):
        raw = raw.get("number")
    if not isinstance(raw, int):
        return None
    signal = raw & 0x7F
    return 128 + signal if signal else (raw >> 8) & 0xFF


_UNITS = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}


def tres_memory_mb(tres: str) -> int | None:
    """``cpu=1,mem=100M,node=1`` -> 100; None without a ``mem`` entry. Pure."""
    for item in tres.split(","):
        key, _, value = item.partition("=")
        if key == "mem" and value[:-1].replace(".", "", 1).isdigit() and value[-1:] in _UNITS:
            return max(1, round(float(value[:-1]) * _UNITS[value[-1]]))
    return None


def from_squeue_job(job: Mapping[str, Any]) -> SlurmJobRecord:
    """One element of ``squeue --json``'s ``jobs`` (OpenAPI v0.0.38, Slurm 22.05)."""
    state = str(job.get("job_state", "")).upper()
    finished = state not in ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED")
    limit = job.get("time_limit")
    if isinstance(limit, dict):
        limit = limit.get("number")
    return SlurmJobRecord(
        job_id=int(job["job_id"]),
        name=str(job.get("name", "")),
        state=state,
        nodes=str(job.get("nodes") or ""),
        start_time=_epoch(job.get("start_time")),
        end_time=_epoch(job.get("end_time")) if finished else None,
        exit_code=_wait_status(job.get("exit_code")) if finished else None,
        reason=str(job.get("state_reason") or ""),
        time_limit_min=limit if isinstance(limit, int) else None,
        array_job_id=_int_or_none(job.get("array_job_id")) or None,
        array_task_id=_int_or_none(job.get("array_task_id")),
        array_pending=str(job.get("array_task_string") or ""),
        memory_mb=_int_or_none(job.get("memory_per_node")) or tres_memory_mb(str(job.get("tres_req_str") or "")),
        comment=str(job.get("comment") or ""),
    )


_FIELD = re.compile(r"(?:^|\s)([A-Za-z]+)=")


def parse_jobcomp_line(line: str) -> dict[str, str]:
    """Split ``JobId=1 Name=x WorkDir=/a b ...``: a value runs until the next `` Key=``."""
    matches = list(_FIELD.finditer(line))
    fields: dict[str, str] = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
        fields[match.group(1)] = line[match.end() : end].strip()
    return fields


def local_time_to_epoch(value: str) -> float | None:
    """``2026-11-23T04:39:59`` in this machine's (the cluster's) local zone -> Unix seconds."""
    if not value or value in ("Unknown", "None", "N/A"):
        return None
    try:
        return float(time.mktime(time.strptime(value, "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return None


def _exit_code(value: str) -> int | None:
    code, _, signal = value.partition(":")
    try:
        sig = int(signal or 0)
        return 128 + sig if sig else int(code)
    except ValueError:
        return None


def from_jobcomp_fields(fields: Mapping[str, str]) -> SlurmJobRecord | None:
    try:
        job_id = int(fields["JobId"])
    except (KeyError, ValueError):
        return None
    limit = fields.get("TimeLimit", "")
    return SlurmJobRecord(
        job_id=job_id,
        name=fields.get("Name", ""),
        state=fields.get("JobState", "").split(" ")[0].upper(),
        nodes="" if fields.get("NodeList") in (None, "(null)") else fields["NodeList"],
        start_time=local_time_to_epoch(fields.get("StartTime", "")),
        end_time=local_time_to_epoch(fields.get("EndTime", "")),
        exit_code=_exit_code(fields.get("ExitCode", "")),
        reason="",
        time_limit_min=int(limit) if limit.isdigit() else None,
        array_job_id=_int_or_none(fields.get("ArrayJobId")) or None,
        array_task_id=_int_or_none(fields.get("ArrayTaskId")),
        memory_mb=tres_memory_mb(fields.get("Tres", "")),
    )


def parse_jobcomp_lines(lines: Iterable[str]) -> list[SlurmJobRecord]:
    records = []
    for line in lines:
        if line.strip():
            record = from_jobcomp_fields(parse_jobcomp_line(line.rstrip("\n")))
            if record is not None:
                records.append(record)
    return records


class JobCompLog:
    """Incremental reader of the jobcomp file: each reconcile reads only new lines.

    A fresh object (a restarted controller) rereads the whole file, so nothing
    depends on memory of an earlier process. A file that shrank was rotated or
    recreated: start over.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._offset = 0
        self._by_id: dict[int, SlurmJobRecord] = {}
        self._by_name: dict[str, SlurmJobRecord] = {}
        self._by_task: dict[tuple[int, int], SlurmJobRecord] = {}

    def refresh(self) -> None:
        if self.path is None:
            return
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size < self._offset:
            self._offset, self._by_id, self._by_name, self._by_task = 0, {}, {}, {}
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read(size - self._offset)
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a half-written last line waits
        self._offset += len(complete)
        for record in parse_jobcomp_lines(complete.decode("utf-8", "replace").splitlines()):
            self._by_id[record.job_id] = record
            if record.array_key is not None:
                self._by_task[record.array_key] = record
            previous = self._by_name.get(record.name)
            if previous is None or previous.job_id <= record.job_id:
                self._by_name[record.name] = record

    def by_id(self, job_id: int) -> SlurmJobRecord | None:
        return self._by_id.get(job_id)

    def by_name(self, name: str) -> SlurmJobRecord | None:
        return self._by_name.get(name)

    def by_task(self, array_job_id: int, task: int) -> SlurmJobRecord | None:
        return self._by_task.get((array_job_id, task))
