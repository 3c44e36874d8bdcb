"""The simulator's job model and the trace formats it reads.

A job's duration depends on the flavor it lands on (that is what heterogeneity-aware placement
exploits), so a job carries a duration per acceptable flavor rather than a single number.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path


class TraceError(ValueError):
    """A malformed trace line; carries the source and line number."""

    def __init__(self, source: str, line: int, message: str) -> None:
        super().__init__(f"{source}:{line}: {message}")
        self.source, self.line, self.message = source, line, message


@dataclass(frozen=True, slots=True)
class SimJob:
    id: int
    project: str
    submit: float
    accelerators: int
    durations: Mapping[str, float]
    """Seconds of run time on each acceptable flavor (keys, in order of preference)."""
    workload_class: str | None = None
    time_limit: float | None = None
    """What the user asked for (reservations, backfill and budget holds use it); None: the longest duration.
    It must be at least the duration on every flavor: the simulator does not kill jobs at their limit."""
    checkpoint_s: float | None = None
    """Seconds of run time between its checkpoints (None: its project's or the center's interval, if any);
    a preempted job resumes from its last checkpoint."""

    @property
    def flavors(self) -> tuple[str, ...]:
        return tuple(self.durations)


@dataclass(slots=True)
class Trace:
    jobs: list[SimJob]
    skipped: int = 0
    """Malformed lines skipped under ``lenient``."""
    throughput: dict[str, dict[str, float]] = field(default_factory=dict)
    """Workload class -> flavor -> relative speed, for heterogeneity-aware placement."""

    @property
    def projects(self) -> list[str]:
        return sorted({j.project for j in self.jobs})


# -- Philly traces as prepared by Gavel ------------------------------------------------------------

def load_throughputs(text: str) -> dict[str, dict[tuple[str, int], float]]:
    """flavor -> (job type, scale factor) -> steps/s when running alone (the ``"null"`` entry)."""
    raw = json.loads(text)
    out: dict[str, dict[tuple[str, int], float]] = {}
    for flavor, table in raw.items():
        if flavor.endswith("_unconsolidated"):
            continue
        rows: dict[tuple[str, int], float] = {}
        for key, value in table.items():
            job_type, scale = ast.literal_eval(key)
            rows[(str(job_type), int(scale))] = float(value["null"])
        out[flavor] = rows
    return out


def _speed(table: Mapping[tuple[str, int], float], job_type: str, scale: int) -> float | None:
    """Throughput of the job type at ``scale``; the largest measured scale below it when not measured."""
    if (job_type, scale) in table:
        return table[(job_type, scale)]
    scales = sorted(s for (t, s) in table if t == job_type and s <= scale)
    return table[(job_type, scales[-1])] if scales else None


def load_philly(directory: Path, throughputs: Path | None = None, *, lenient: bool = False,
                limit: int | None = None) -> Trace:
    """Every ``*.trace`` file under ``directory`` (one per virtual cluster, which becomes a project)."""
    tput_path = throughputs or directory / "simulation_throughputs.json"
    tput = load_throughputs(tput_path.read_text())
    files = sorted(directory.glob("*.trace")) or sorted((directory / "seed0").glob("*.trace"))
    if not files:
        raise FileNotFoundError(f"no *.trace files under {directory}")
    jobs: list[SimJob] = []
    skipped = 0
    classes: dict[str, dict[str, float]] = {}
    for path in files:
        project = path.stem
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                job = _philly_line(line, project, len(jobs), tput, classes)
            except ValueError as e:
                if not lenient:
                    raise TraceError(str(path), n, str(e)) from None
                skipped += 1
                continue
            jobs.append(job)
            if limit is not None and len(jobs) >= limit:
                break
    jobs.sort(key=lambda j: (j.submit, j.id))
    return Trace(jobs, skipped, classes)


def _philly_line(line: str, project: str, jid: int, tput: Mapping[str, Mapping[tuple[str, int], float]],
                 classes: dict[str, dict[str, float]]) -> SimJob:
    fields = line.split("\t")
    if len(fields) != 7:
        raise ValueError(f"expected 7 tab-separated fields, got {len(fields)}")
    job_type = fields[0]
    try:
        steps, arrival, scale = float(fields[4]), float(fields[5]), int(fields[6])
    except ValueError:
        raise ValueError("total_steps, arrival_time and scale_factor must be numbers") from None
    if steps <= 0 or arrival < 0 or scale < 1 or not math.isfinite(steps + arrival):
        raise ValueError("total_steps and scale_factor must be positive, arrival_time non-negative")
    durations: dict[str, float] = {}
    for flavor in tput:  # the file's order (k80, p100, v100): no hint of speed for agnostic policies
        speed = _speed(tput[flavor], job_type, scale)
        if speed:
            durations[flavor] = steps / speed
    if not durations:
        raise ValueError(f"job type {job_type!r} has no measured throughput")
    cls = f"{job_type}|{scale}"
    classes.setdefault(cls, {f: steps / d for f, d in durations.items()})
    return SimJob(jid, project, arrival, scale, durations, cls)


# -- generic CSV -------------------------------------------------------------------------------------

CSV_COLUMNS = ("submit", "project", "accelerators", "flavors", "duration")


def load_csv(text: str, source: str = "<csv>", *, lenient: bool = False) -> Trace:
    """Header ``submit,project,accelerators,flavors,duration`` (seconds; flavors separated by ``|``).

    ``duration`` may be one number (same on every flavor) or ``flavor:seconds`` pairs separated by
    ``|``; a ``work`` column (accelerator-seconds) instead of ``duration`` divides by the gang size. An
    optional ``checkpoint`` column gives the job's checkpoint interval in seconds (empty: none declared).
    """
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        return Trace([])
    cols = [h.strip() for h in header]
    need = {"submit", "project", "accelerators", "flavors"}
    if not need <= set(cols) or not ({"duration", "work"} & set(cols)):
        raise TraceError(source, 1, f"header must name {', '.join(CSV_COLUMNS)} (or work)")
    jobs: list[SimJob] = []
    skipped = 0
    for n, row in enumerate(reader, 2):
        if not row or not any(c.strip() for c in row):
            continue
        try:
            jobs.append(_csv_row(dict(zip(cols, row, strict=False)), len(row) == len(cols), len(jobs)))
        except ValueError as e:
            if not lenient:
                raise TraceError(source, n, str(e)) from None
            skipped += 1
    jobs.sort(key=lambda j: (j.submit, j.id))
    return Trace(jobs, skipped)


def _csv_row(row: dict[str, str], complete: bool, jid: int) -> SimJob:
    if not complete:
        raise ValueError("wrong number of fields")
    try:
        submit = float(row["submit"])
        gang = int(row["accelerators"])
    except ValueError:
        raise ValueError("submit must be a number and accelerators an integer") from None
    project = row["project"].strip()
    flavors = [f.strip() for f in row["flavors"].split("|") if f.strip()]
    if not project or not flavors or gang < 1 or submit < 0 or not math.isfinite(submit):
        raise ValueError("need a project, at least one flavor, accelerators >= 1 and submit >= 0")
    spec = (row.get("duration") or "").strip()
    per = 1.0
    if not spec:
        spec, per = (row.get("work") or "").strip(), float(gang)
    durations: dict[str, float] = {}
    try:
        if ":" in spec:
            pairs = dict(p.split(":", 1) for p in spec.split("|"))
            durations = {f: float(pairs[f]) / per for f in flavors}
        else:
            durations = dict.fromkeys(flavors, float(spec) / per)
    except (ValueError, KeyError):
        raise ValueError(f"bad duration {spec!r} for flavors {flavors}") from None
    if any(not (d > 0 and math.isfinite(d)) for d in durations.values()):
        raise ValueError("durations must be positive")
    raw = (row.get("checkpoint") or "").strip()
    checkpoint: float | None = None
    if raw:
        try:
            checkpoint = float(raw)
        except ValueError:
            checkpoint = math.nan
        if not (checkpoint > 0 and math.isfinite(checkpoint)):
            raise ValueError(f"checkpoint must be a positive number of seconds (got {raw!r})")
    return SimJob(jid, project, submit, gang, durations, checkpoint_s=checkpoint)


def dump_csv(jobs: Iterable[SimJob]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    jobs = list(jobs)
    checkpoints = any(j.checkpoint_s is not None for j in jobs)
    w.writerow(CSV_COLUMNS + (("checkpoint",) if checkpoints else ()))
    for j in jobs:
        row = [f"{j.submit:g}", j.project, j.accelerators, "|".join(j.flavors),
               "|".join(f"{f}:{d:g}" for f, d in j.durations.items())]
        if checkpoints:
            row.append("" if j.checkpoint_s is None else f"{j.checkpoint_s:g}")
        w.writerow(row)
    return out.getvalue()


# -- synthetic ---------------------------------------------------------------------------------------

# Gang sizes with the frequencies of the Philly trace (1: 69%, 2: 3%, 4: 13%, 8: 13%, 16: 2%, 32+: <1%)
GANG_SIZES = (1, 2, 4, 8, 16, 32, 64)
GANG_WEIGHTS = (10480, 463, 2044, 1916, 255, 91, 1)


def synthetic(n_jobs: int, *, projects: int = 10, flavors: Mapping[str, float] | None = None,
              mean_interarrival: float = 60.0, diurnal: bool = False, median_duration: float = 1800.0,
              sigma: float = 1.5, max_duration: float = 14 * 86400.0, seed: int = 0) -> Trace:
    """Poisson (or diurnal, rate x(1 +/- 0.8) over the day) arrivals, log-normal durations, Philly gangs.

    ``flavors`` maps flavor -> relative speed (duration divides by it); each job accepts a random
    non-empty subset, project popularity follows a Zipf-like law.
    """
    rng = random.Random(seed)
    speeds = dict(flavors or {"gpu": 1.0})
    names = list(speeds)
    pweights = [1.0 / (i + 1) ** 0.8 for i in range(projects)]
    t = 0.0
    jobs: list[SimJob] = []
    mu = math.log(median_duration)
    gangs = rng.choices(GANG_SIZES, GANG_WEIGHTS, k=n_jobs)
    owners = rng.choices(range(projects), pweights, k=n_jobs)
    for i in range(n_jobs):
        gap = rng.expovariate(1.0 / mean_interarrival)
        if diurnal:
            gap /= 1.0 + 0.8 * math.sin(2 * math.pi * t / 86400.0)
        t += gap
        base = min(rng.lognormvariate(mu, sigma), max_duration)
        k = rng.randint(1, len(names))
        accept = rng.sample(names, k)
        accept.sort(key=lambda f: -speeds[f])
        jobs.append(SimJob(i, f"p{owners[i]:04d}", t, gangs[i], {f: base / speeds[f] for f in accept}))
    return Trace(jobs)


def load_trace(path: Path, *, lenient: bool = False) -> Trace:
    """By what the path is: a Philly/Gavel directory, or a CSV file."""
    if path.is_dir():
        return load_philly(path, lenient=lenient)
    return load_csv(path.read_text(), str(path), lenient=lenient)
