"""Benchmark: the live controller through the real database (SQLite, PostgreSQL) with a long queue.

Scale (issue 17): 100,000 pending jobs from 1,000 projects on 2,000 nodes (16,000 accelerators, full). Measures
the controller's own cycle (``Controller.cycle``: database reads, the policy, the writes) with a null engine that
accepts every start at once, so the figures are the controller's, not Slurm's:
  - light cycle after one submit (goal <= 20 ms median), and the core policy's share of it (core-only);
  - a rebuild of the scheduler state from the database (goal <= 2 s); the first cycle after a start;
  - the process's peak memory (goal <= 1 GiB);
  - submit -> start of another project's job on idle capacity, the controller loop running in its thread,
    with 100,000 jobs queued by one project vs an empty center (goal <= 2x).
Writes bench/results/controller_cycle.{json,md} (or _quick with --quick).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine

from aicc.config import Settings
from aicc.controller import planning
from aicc.controller.loop import Controller
from aicc.core.allocations import FlavorQuota
from aicc.core.tenancy import CenterRole, OrgKind
from aicc.executors.base import Launch, RunPhase, RunStatus
from aicc.services import allocations, inventory, organizations, projects, users
from aicc.services.principal import SYSTEM
from aicc.store import changes
from aicc.store.db import Database
from aicc.store.migrate import upgrade
from aicc.store.models import JobRow, utcnow

FLAVORS = [("h100", 2.0), ("a100", 1.0), ("l40s", 0.6), ("rbln-atom", 0.4)]
GANGS = [1, 1, 1, 1, 2, 2, 4, 8, 8, 16]


class NullEngine:
    """Accepts every start at once and reports every run as running: the controller's cost alone."""

    name = "null"

    def __init__(self) -> None:
        self.started: dict[int, float] = {}

    def start(self, launch: Launch) -> str:
        self.started[launch.job_id] = time.perf_counter()
        return f"n{launch.job_id}"

    def reconcile(self, runs: Sequence[tuple[int, int, str]]) -> list[RunStatus]:
        return [RunStatus(i, a, e, RunPhase.RUNNING, started_at=time.time()) for i, a, e in runs]

    def cancel(self, external_id: str, grace_s: float) -> None:
        pass

    def log_paths(self, workdir: Path) -> tuple[Path, Path]:
        return workdir / "stdout.log", workdir / "stderr.log"


def fresh_db(url: str | None, tmp: Path, name: str) -> Database:
    if url is None:
        db = Database(f"sqlite:///{tmp / name}.db")
    else:
        admin = create_engine(make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            c.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        db = Database(make_url(url).set(database=name).render_as_string(hide_password=False))
    upgrade(db.engine)
    return db


def center(db: Database, nodes_per_flavor: int, projects_n: int, quota: int) -> tuple[list[int], int]:
    """Inventory, one organization, ``projects_n`` projects with allocations; returns (project ids, user id)."""
    toml = ['[site]\nname = "bench"\n']
    for name, rate in FLAVORS:
        vendor = "rebellions" if name.startswith("rbln") else "nvidia"
        toml.append(f'[[flavors]]\nname = "{name}"\nvendor = "{vendor}"\nmemory_gb = 80\nsu_rate = {rate}\n')
        toml.append(f'[[nodes]]\nname = "{name}"\nflavor = "{name}"\naccelerators = 8\ncpus = 128\n'
                    f'memory_gb = 1000\ncount = {nodes_per_flavor}\n')
    now = utcnow()
    with db.write() as s:
        inventory.load(s, SYSTEM, "\n".join(toml), "bench.toml")
        user = users.create(s, SYSTEM, username="bench", display_name="", email=None,
                            center_role=CenterRole.CENTER_ADMIN)
        org = organizations.create(s, SYSTEM, name="org-bench", display_name="Bench", kind=OrgKind.STARTUP,
                                   region="광주광역시")
        ids = []
        for i in range(projects_n):
            p = projects.create(s, SYSTEM, organization_id=org.id, name=f"p{i:04d}", title="p", description="")
            allocations.create(s, SYSTEM, project_id=p.id, name=f"g{i}", budget_su=1e12,
                               starts_at=now - dt.timedelta(days=1), ends_at=now + dt.timedelta(days=300),
                               quotas={f: FlavorQuota(quota, quota * 2) for f, _ in FLAVORS})
            ids.append(p.id)
    return ids, user.id


def insert_jobs(db: Database, rows: list[dict[str, Any]]) -> None:
    now = utcnow()
    base = {"name": "b", "reason": "waiting for the next scheduling cycle", "command": ["true"], "script": None,
            "cpus": 4, "memory_mb": 16_000, "env": {}, "workload_class": None, "depends_on": [], "datasets": [],
            "array_max_running": None, "array_id": None, "array_index": None, "attempt": 0, "borrowed": False,
            "metered_intervals": 0, "cancel_requested": False, "preempt_requested": False, "version": 1,
            "priority": 0, "submitted_at": now}
    for i in range(0, len(rows), 5000):
        with db.write() as s:
            seq = changes.stamp(s, changes.JOBS)
            s.execute(insert(JobRow), [{**base, **r, "change_seq": seq} for r in rows[i:i + 5000]])


def fill(db: Database, filler: int, user: int, nodes_per_flavor: int) -> None:
    """Every node busy with one 8-accelerator run of the filler project (a full center)."""
    now = utcnow()
    rows = []
    width = max(2, len(str(nodes_per_flavor)))  # the inventory's node names: h100-001 ... h100-500
    for f, _ in FLAVORS:
        for n in range(1, nodes_per_flavor + 1):
            rows.append({"project_id": filler, "user_id": user, "state": "running", "flavors": [f], "flavor": f,
                         "accelerators": 8, "time_limit_s": 30 * 24 * 3600, "admitted_at": now, "started_at": now,
                         "metered_until": now, "placement": [[f"{f}-{n:0{width}d}", list(range(8)), 4, 16_000]],
                         "external_id": f"fill-{f}-{n}", "reason": "running"})
    insert_jobs(db, rows)


def queue(db: Database, project_ids: list[int], user: int, n: int, seed: int) -> None:
    rnd = random.Random(seed)
    names = [f for f, _ in FLAVORS]
    insert_jobs(db, [{"project_id": rnd.choice(project_ids), "user_id": user, "state": "pending",
                      "flavors": rnd.sample(names, rnd.choice([1, 1, 2])), "accelerators": rnd.choice(GANGS),
                      "time_limit_s": rnd.choice([600, 3600, 4 * 3600, 24 * 3600]),
                      "priority": rnd.choice([0, 0, 0, 10])} for _ in range(n)])


def ms(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def server_cpu_s(db: Database) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL server process of ``db`` (none for SQLite: it runs in ours)."""
    if db.engine.dialect.name != "postgresql":
        return {}
    with db.engine.connect() as c:
        pids = [int(p) for p in c.execute(text("SELECT pid FROM pg_stat_activity")).scalars()]
    out = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def ms_cpu(db: Database, fn: Callable[[], object]) -> tuple[float, float]:
    """(wall ms, CPU ms of this process and the database server's processes): on a machine shared with other
    work the CPU figure is the steadier one."""
    before, c0 = server_cpu_s(db), time.process_time()
    wall = ms(fn)
    c1, after = time.process_time(), server_cpu_s(db)
    server = sum(v - before.get(pid, 0.0) for pid, v in after.items())
    return wall, (c1 - c0 + server) * 1000


def submit_one(db: Database, project: int, user: int, flavor: str, gang: int = 1) -> int:
    now = utcnow()
    with db.write() as s:
        job = JobRow(project_id=project, user_id=user, name="one", state="pending",
                     reason="waiting for the next scheduling cycle", command=["true"], flavors=[flavor],
                     accelerators=gang, cpus=4, memory_mb=16_000, time_limit_s=600, submitted_at=now, env={},
                     depends_on=[], datasets=[])
        s.add(job)
        s.flush()
        return job.id


def scale_run(url: str | None, tmp: Path, nodes: int, projects_n: int, jobs: int, reps: int) -> dict[str, Any]:
    per_flavor = nodes // len(FLAVORS)
    db = fresh_db(url, tmp, "aicc_bench_scale")
    t0 = time.perf_counter()
    ids, user = center(db, per_flavor, projects_n + 1, quota=max(per_flavor * 8 // projects_n, 1))
    fill(db, ids[-1], user, per_flavor)
    queue(db, ids[:-1], user, jobs, seed=1)
    setup_s = time.perf_counter() - t0
    settings = Settings(home=tmp / "home-scale", database_url=db.url, controller=False)
    ctl = Controller(settings, db, NullEngine())  # type: ignore[arg-type]
    first_ms, first_cpu = ms_cpu(db, lambda: ctl.cycle(full=True))  # start: a rebuild, the queue told "waiting"
    assert ctl.last_decision is not None and ctl.last_decision.kind == "rebuild"
    ctl.cycle(full=True)
    core: list[float] = []
    real_cycle = ctl.planner.state.sched.cycle  # type: ignore[union-attr]

    def timed_cycle(now: float) -> Any:
        t = time.perf_counter()
        out = real_cycle(now)
        core.append((time.perf_counter() - t) * 1000)
        return out

    ctl.planner.state.sched.cycle = timed_cycle  # type: ignore[union-attr,method-assign]
    light, kinds = [], set()
    rnd = random.Random(2)
    for _ in range(reps):
        submit_one(db, rnd.choice(ids[:-1]), user, rnd.choice(FLAVORS)[0])
        light.append(ms(lambda: ctl.cycle(full=False)))
        kinds.add(ctl.last_decision.kind)
    full = [ms(lambda: ctl.cycle(full=True)) for _ in range(5)]
    rebuild, rebuild_cpu = [], []
    for _ in range(3):
        ctl.planner.invalidate()
        wall, cpu = ms_cpu(db, lambda: ctl.cycle(full=False))
        rebuild.append(wall)
        rebuild_cpu.append(cpu)
        assert ctl.last_decision.kind == "rebuild"
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ctl.stop()
    db.dispose()
    return {"setup_s": round(setup_s, 1), "first_cycle_after_start_ms": round(first_ms, 1),
            "first_cycle_after_start_cpu_ms": round(first_cpu, 1),
            "light_cycle_after_submit_ms_median": round(statistics.median(light), 2),
            "light_cycle_after_submit_ms_p95": round(sorted(light)[int(len(light) * 0.95) - 1], 2),
            "light_cycle_kinds": sorted(kinds),
            "core_only_policy_cycle_ms_median": round(statistics.median(core[:reps]), 2),
            "full_cycle_ms_median": round(statistics.median(full), 1),
            "rebuild_ms_median": round(statistics.median(rebuild), 1),
            "rebuild_cpu_ms_median": round(statistics.median(rebuild_cpu), 1),
            "peak_rss_mib": round(rss_mib)}


def idle_run(url: str | None, tmp: Path, queued: int, reps: int) -> dict[str, Any]:
    """Submit -> start of project B's job on idle a100s while project A has ``queued`` jobs waiting on h100
    (its quota is used up), with the controller loop running in its own thread as in the server."""
    db = fresh_db(url, tmp, f"aicc_bench_idle_{queued}")
    ids, user = center(db, 4, 2, quota=8)  # 4 nodes of each flavor; A's h100 quota: 8 + 16 borrowed
    if queued:
        insert_jobs(db, [{"project_id": ids[0], "user_id": user, "state": "pending", "flavors": ["h100"],
                          "accelerators": 8, "time_limit_s": 3600} for _ in range(queued)])
    settings = Settings(home=tmp / f"home-idle-{queued}", database_url=db.url, controller=False, tick_s=2.0)
    engine = NullEngine()
    ctl = Controller(settings, db, engine)  # type: ignore[arg-type]
    ctl.start()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:  # the start's rebuild and A's admissions (3 nodes' worth) are done
        time.sleep(0.5)
        if ctl.cycles > 3 and ctl.last_decision is not None and not ctl.last_decision.admitted:
            break
    waits = []
    for _ in range(reps):
        t0 = time.perf_counter()
        job = submit_one(db, ids[1], user, "a100")
        ctl.wake()  # what the API does after a submit
        while job not in engine.started and time.perf_counter() - t0 < 60:
            time.sleep(0.0005)
        waits.append((engine.started.get(job, time.perf_counter()) - t0) * 1000)
        time.sleep(0.3)
    ctl.stop()
    db.dispose()
    return {"queued": queued, "submit_to_start_ms_median": round(statistics.median(waits), 1),
            "submit_to_start_ms_p90": round(sorted(waits)[int(len(waits) * 0.9) - 1], 1), "reps": reps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="10x smaller, for a smoke run")
    ap.add_argument("--postgres", metavar="URL", help="a PostgreSQL server URL (a database is created on it)")
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--anchor", metavar="REV", help="first measure the scale run on this git revision's code (its "
                    "src/ from `git archive`), in a subprocess, and show it beside this tree's figures")
    ap.add_argument("--scale-json", metavar="PATH", help=argparse.SUPPRESS)  # the anchor's subprocess: scale run only
    args = ap.parse_args()
    scale = 10 if args.quick else 1
    nodes, projects_n, jobs = 2000 // scale, 1000 // scale, 100_000 // scale
    backend = "postgresql" if args.postgres else "sqlite"
    load_before = os.getloadavg()
    if args.scale_json:
        with tempfile.TemporaryDirectory(prefix="aicc-bench-ctl-") as d:
            got = scale_run(args.postgres, Path(d), nodes, projects_n, jobs, args.reps)
        Path(args.scale_json).write_text(json.dumps(got))
        return
    anchor = run_anchor(args) if args.anchor else None
    with tempfile.TemporaryDirectory(prefix="aicc-bench-ctl-") as d:
        tmp = Path(d)
        big = scale_run(args.postgres, tmp, nodes, projects_n, jobs, args.reps)
        empty = idle_run(args.postgres, tmp, 0, 15)
        busy = idle_run(args.postgres, tmp, jobs, 15)
    ratio = busy["submit_to_start_ms_median"] / max(empty["submit_to_start_ms_median"], 1e-9)
    result = {"benchmark": "controller_cycle", "backend": backend, "engine": "null (accepts every start at once)",
              "scale": {"nodes": nodes, "accelerators": nodes * 8, "projects": projects_n, "pending_jobs": jobs},
              "scale_run": big, "idle_capacity": {"empty": empty, "queued": busy, "ratio": round(ratio, 2)},
              "goals": {"light_cycle_ms_median": 20, "rebuild_ms": 2000, "memory_mib": 1024, "idle_ratio": 2.0},
              "machine": machine(), "load_average_before_after": [round(load_before[0], 1),
                                                                   round(os.getloadavg()[0], 1)]}
    if anchor is not None:
        result["anchor"] = {"revision": args.anchor, "scale_run": anchor}
    name = f"controller_cycle_{backend}" + ("_quick" if args.quick else "")
    out = Path(__file__).resolve().parent / "results"
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    b = big
    rows = [
        ("light cycle after one submit (live controller, real DB)",
         f"{b['light_cycle_after_submit_ms_median']} ms median, {b['light_cycle_after_submit_ms_p95']} ms p95",
         "≤ 20 ms"),
        ("  of which the core policy's cycle (core-only figure)", f"{b['core_only_policy_cycle_ms_median']} ms median",
         ""),
        ("full cycle (tick: engine news, projects' budgets)", f"{b['full_cycle_ms_median']} ms median", ""),
        ("rebuild of the state from the database", f"{b['rebuild_ms_median']} ms median of 3", "≤ 2 s"),
        ("  CPU of the rebuild (this process + the database server)", f"{b.get('rebuild_cpu_ms_median')} ms", ""),
        ("first cycle after a start (rebuild + 'waiting' written to the queue)",
         f"{b['first_cycle_after_start_ms']} ms", ""),
        ("  CPU of the first cycle (this process + the database server)",
         f"{b.get('first_cycle_after_start_cpu_ms')} ms", ""),
        ("peak memory of the process (controller, DB driver, the queue)", f"{b['peak_rss_mib']} MiB", "≤ 1 GiB"),
        (f"submit → start on idle capacity, {jobs:,} jobs queued by another project",
         f"{busy['submit_to_start_ms_median']} ms median ({ratio:.2f}× empty)", "≤ 2× empty"),
        ("submit → start on idle capacity, empty center", f"{empty['submit_to_start_ms_median']} ms median", ""),
    ]
    md = (f"# Controller cycle ({backend})\n\nThe live controller (`Controller.cycle`, the real {backend} database, a "
          f"null engine that accepts every start at once) with {jobs:,} pending jobs from {projects_n:,} projects "
          f"on {nodes:,} nodes ({nodes * 8:,} accelerators, all busy). `python bench/controller_cycle.py"
          f"{' --postgres URL' if args.postgres else ''}`.\n\n| what | measured | goal |\n|---|---|---|\n"
          + "\n".join(f"| {a} | {m} | {g} |" for a, m, g in rows)
          + f"\n\nMachine: {result['machine']['cpus']} cores ({result['machine']['cpu_model']}), "
            f"{result['machine']['memory_gib']} GiB, shared with other work while measured (load average "
            f"{result['load_average_before_after'][0]} before, {result['load_average_before_after'][1]} after).\n")
    if anchor is not None:
        keys = [("light_cycle_after_submit_ms_median", "light cycle, ms median"), ("full_cycle_ms_median",
                "full cycle, ms median"), ("rebuild_ms_median", "rebuild, ms median"), ("rebuild_cpu_ms_median",
                "rebuild, CPU ms (process + server)"), ("first_cycle_after_start_ms", "first cycle after a start, ms"),
                ("first_cycle_after_start_cpu_ms", "first cycle, CPU ms (process + server)"),
                ("peak_rss_mib", "peak memory, MiB")]
        md += (f"\nSide by side in this run, the scale run on `{args.anchor}` first (its code, this script):\n\n"
               f"| what | {args.anchor} | this tree |\n|---|---|---|\n"
               + "\n".join(f"| {label} | {anchor.get(k)} | {b.get(k)} |" for k, label in keys) + "\n")
    (out / f"{name}.md").write_text(md)
    print(md)


def run_anchor(args: argparse.Namespace) -> dict[str, Any]:
    """The scale run on another revision's code: its ``src`` from ``git archive``, this script, a subprocess."""
    import subprocess

    repo = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="aicc-bench-anchor-") as d:
        archive = subprocess.run(["git", "-C", str(repo), "archive", args.anchor, "src"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", d], input=archive, check=True)
        out = Path(d) / "scale.json"
        cmd = [sys.executable, __file__, "--reps", str(args.reps), "--scale-json", str(out)]
        cmd += ["--quick"] if args.quick else []
        cmd += ["--postgres", args.postgres] if args.postgres else []
        subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": str(Path(d) / "src")})
        got: dict[str, Any] = json.loads(out.read_text())
        return got


if __name__ == "__main__":
    planning.log.setLevel("ERROR")
    threading.excepthook = lambda a: print("thread failed:", a.exc_value, file=sys.stderr)
    main()
