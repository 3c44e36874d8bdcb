"""Benchmark: server time of the portal's main pages with 10,000 jobs in the database.

Target (issue "Web portal in Korean and English"): every main page < 300 ms. The demo
center (two organizations, four members) gets 10,000 jobs over the last 30 days in
every state, and a usage-ledger row for each job that ran. Pages are requested
in-process (TestClient, SQLite), so the time is the server's: routing, queries,
templates. Writes bench/results/portal_pages.{json,md}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from aicc.api.app import create_app
from aicc.config import Settings
from aicc.demo import load_demo
from aicc.services import users
from aicc.services.audit_seal import AuditSeal
from aicc.store.db import Database
from aicc.store.migrate import upgrade
from aicc.store.models import AllocationRow, JobRow, ProjectRow, UsageRow, UserRow, utcnow

PASSWORD = "bench password 1"
STATES = ["succeeded"] * 12 + ["failed"] * 2 + ["cancelled"] + ["pending"] * 4 + ["running"]
FLAVORS = {"h100": 2.0, "a100": 1.0, "cpu": 0.02}
TARGET_MS = 300.0


def populate(db: Database, jobs: int, seed: int) -> None:
    rnd = random.Random(seed)
    load_demo(db)
    now = utcnow()
    with db.write() as s:
        hashed = users.hash_password(PASSWORD)
        for u in s.execute(select(UserRow)).scalars():
            u.password_hash = hashed
        people = {u.username: u.id for u in s.execute(select(UserRow)).scalars()}
        projects = {p.name: p.id for p in s.execute(select(ProjectRow)).scalars()}
        allocs = {a.project_id: a.id for a in s.execute(select(AllocationRow)).scalars()}
    owners = [("haneul-llm", "alice"), ("haneul-llm", "bob"), ("jnu-vision", "chul"), ("jnu-vision", "dana")]
    job_rows, usage_rows = [], []
    for i in range(jobs):
        project, user = rnd.choice(owners)
        state = rnd.choice(STATES)
        flavor = rnd.choice(list(FLAVORS))
        accels = 0 if flavor == "cpu" else rnd.choice([1, 1, 2, 4, 8])
        submitted = now - dt.timedelta(seconds=rnd.uniform(0, 30 * 86400))
        started = submitted + dt.timedelta(seconds=rnd.uniform(5, 3600)) if state != "pending" else None
        started = min(started, now) if started else None
        ended = (min(started + dt.timedelta(seconds=rnd.uniform(60, 4 * 3600)), now)
                 if started and state not in ("running",) else None)
        job_rows.append({
            "project_id": projects[project], "user_id": people[user], "name": f"train-{i}", "state": state,
            "reason": "waiting: project quota of 8 h100 in use" if state == "pending" else "completed",
            "command": ["python", "train.py", f"--seed={i}"], "script": None, "flavors": [flavor],
            "accelerators": accels, "cpus": 4, "memory_mb": 16384, "time_limit_s": 4 * 3600, "priority": 0,
            "env": {}, "workload_class": None, "depends_on": [], "array_id": None, "array_index": None,
            "array_max_running": None, "submitted_at": submitted, "admitted_at": started, "started_at": started,
            "ended_at": ended, "exit_code": 0 if state == "succeeded" else None, "attempt": 0,
            "allocation_id": allocs[projects[project]] if started else None, "flavor": flavor if started else None,
            "placement": None, "borrowed": False, "external_id": None, "metered_until": ended,
            "metered_intervals": 1 if ended else 0, "cancel_requested": False, "preempt_requested": False,
            "version": 1,
        })
    with db.write() as s:
        ids = list(s.execute(insert(JobRow).returning(JobRow.id, sort_by_parameter_order=True), job_rows).scalars())
        for job_id, row in zip(ids, job_rows, strict=True):
            if row["started_at"] and row["ended_at"]:
                seconds = (row["ended_at"] - row["started_at"]).total_seconds()
                units = row["accelerators"] or row["cpus"]
                usage_rows.append({
                    "job_id": job_id, "attempt": 0, "interval": 0, "allocation_id": row["allocation_id"],
                    "project_id": row["project_id"], "flavor": row["flavor"], "accelerators": row["accelerators"],
                    "cpus": row["cpus"], "started_at": row["started_at"], "ended_at": row["ended_at"],
                    "su": FLAVORS[row["flavor"]] * units * seconds / 3600 / 20, "recorded_at": now})
        s.execute(insert(UsageRow), usage_rows)


def sign_in(client: TestClient, username: str) -> None:
    import re

    page = client.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    r = client.post("/signin", data={"username": username, "password": PASSWORD, "csrf": csrf.group(1)},
                    follow_redirects=False)
    assert r.status_code == 303, r.text


def measure(client: TestClient, path: str, reps: int) -> dict[str, float]:
    client.get(path)  # warm: templates compiled, caches filled
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (path, r.status_code, r.text[:500])
    times.sort()
    return {"median_ms": round(statistics.median(times), 1), "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
            "max_ms": round(times[-1], 1), "bytes": len(r.content)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/aicc.db"
        db = Database(url, audit_seal=AuditSeal(Path(tmp) / "home" / "secrets" / "audit.key",
                                                Path(tmp) / "home" / "audit-anchors.log"))
        upgrade(db.engine)
        t0 = time.perf_counter()
        populate(db, args.jobs, seed=1)
        populate_s = time.perf_counter() - t0
        settings = Settings(home=Path(tmp) / "home", database_url=url, controller=False)
        app = create_app(settings, db)
        with db.read() as s:
            a_job = s.execute(select(JobRow.id).where(JobRow.state == "pending").limit(1)).scalar_one()
            project = s.execute(select(ProjectRow.id).where(ProjectRow.name == "haneul-llm")).scalar_one()
            org = s.execute(select(ProjectRow.organization_id).where(ProjectRow.id == project)).scalar_one()
        pages = [
            ("bob", "/", "dashboard (member)"),
            ("bob", "/jobs", "job list, first page"),
            ("bob", "/jobs?state=succeeded&sort=submitted&dir=asc&page=40", "job list, filtered, sorted, page 40"),
            ("bob", f"/jobs/{a_job}", "job detail"),
            ("bob", "/jobs/new", "submit form"),
            ("bob", f"/projects/{project}", "project (burn-down)"),
            ("alice", f"/orgs/{org}", "organization (org admin)"),
            ("admin", "/center", "center utilization (center admin)"),
            ("admin", "/programs", "programs and calls (center admin)"),
            ("admin", "/datazone", "data zone (center admin)"),
            ("bob", "/testbed", "testbed leaderboard"),
        ]
        results = []
        clients: dict[str, TestClient] = {}
        for user, path, label in pages:
            if user not in clients:
                clients[user] = TestClient(app)
                clients[user].__enter__()
                sign_in(clients[user], user)
            results.append({"page": label, "path": path, "user": user, **measure(clients[user], path, args.reps)})
        for c in clients.values():
            c.__exit__(None, None, None)
        db.dispose()
    worst = max(r["p95_ms"] for r in results)
    result = {"benchmark": "portal_pages", "jobs": args.jobs, "reps": args.reps, "database": "sqlite",
              "populate_s": round(populate_s, 1), "pages": results, "worst_p95_ms": worst,
              "target_ms": TARGET_MS, "meets_target": worst < TARGET_MS, "machine": machine()}
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "portal_pages.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    m = result["machine"]
    md = (f"# Portal pages\n\nServer time of the portal's main pages with {args.jobs:,} jobs (and a ledger row per "
          f"job that ran) in SQLite; {args.reps} requests each after one warm-up, in-process. Target: < "
          f"{TARGET_MS:.0f} ms.\nMachine: {m['cpus']} cores, {m['cpu_model']}, Python {m['python']}.\n\n"
          "| page | path | median | p95 | max | size |\n|---|---|---|---|---|---|\n" +
          "".join(f"| {r['page']} | `{r['path']}` | {r['median_ms']} ms | {r['p95_ms']} ms | {r['max_ms']} ms | "
                  f"{r['bytes'] // 1024} KiB |\n" for r in results) +
          f"\nWorst p95: {worst} ms ({'meets' if worst < TARGET_MS else 'misses'} the target).\n")
    (out / "portal_pages.md").write_text(md)
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
