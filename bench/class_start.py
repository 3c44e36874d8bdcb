"""Benchmark: a class starts (issue 19). N students each start a JupyterLab session within W seconds.

Measured on the live path: a real `aicc server` with its controller (local engine: every session isolated by
the runner under its project's uid), one project holding the class, N users with their own tokens. Each
student's `POST /api/v1/sessions` is sent at its moment in the window; the time until its session reports
`ready` (JupyterLab answering `/api/status` through its socket) is recorded. Once all are ready and idle, the
memory of each session's processes (PSS, so shared libraries are split fairly) is summed per session.
Writes bench/results/class_start.{json,md}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import httpx
from _machine import machine

from aicc.config import load_settings
from aicc.core.allocations import FlavorQuota
from aicc.core.tenancy import OrgKind, OrgRole
from aicc.services import allocations, inventory, organizations, projects, tokens, users
from aicc.services.audit_seal import AuditSeal
from aicc.services.principal import SYSTEM
from aicc.store.db import Database
from aicc.store.migrate import upgrade
from aicc.store.models import utcnow

INVENTORY = """
[site]
name = "class-site"
[[flavors]]
name = "cpu"
vendor = "cpu"
su_rate = 0.02
[[nodes]]
name = "cpu-node"
flavor = "cpu"
accelerators = 0
cpus = 128
memory_gb = 512
"""


def build(env: dict[str, str], students: int) -> list[str]:
    settings = load_settings(env)
    settings.home.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url, audit_seal=AuditSeal.from_settings(settings))
    upgrade(db.engine)
    out = []
    with db.write() as s:
        inventory.load(s, SYSTEM, INVENTORY, "class.toml")
        org = organizations.create(s, SYSTEM, name="ai-edu", display_name="AI 교육센터", kind=OrgKind.UNIVERSITY,
                                   region="광주광역시")
        p = projects.create(s, SYSTEM, organization_id=org.id, name="class-2027", title="AI class", description="")
        now = utcnow()
        allocations.create(s, SYSTEM, project_id=p.id, name="class", budget_su=100_000,
                           starts_at=now - dt.timedelta(days=1), ends_at=now + dt.timedelta(days=30),
                           quotas={"cpu": FlavorQuota(128, 128)})
        for i in range(students):
            u = users.create(s, SYSTEM, username=f"student{i:02d}", display_name="", email=None, center_role=None)
            organizations.add_member(s, SYSTEM, org.id, username=u.username, role=OrgRole.MEMBER)
            projects.add_member(s, SYSTEM, p.id, username=u.username)
            out.append(tokens.issue(s, SYSTEM, user_id=u.id, name="bench", ttl_days=1, default_ttl_days=1).token)
    db.dispose()
    return out


def pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
    except (OSError, StopIteration, ValueError):
        return 0


def session_memory(jobs_dir: Path, ids: list[int]) -> dict[int, int]:
    """PSS (KiB) of every process whose working directory is a session's job directory (its server, its
    kernels, and the bubblewrap parents that hold its namespaces)."""
    want = {str((jobs_dir / str(i)).resolve()): i for i in ids}
    out = dict.fromkeys(ids, 0)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if cwd in want:
            out[want[cwd]] += pss_kib(int(entry))
    return out


def session_cpu(jobs_dir: Path, ids: list[int]) -> dict[int, dict[str, float]]:
    """CPU seconds so far of each session's processes (by their working directory), by program: what a start
    costs, and which part of it (the runner, bubblewrap, JupyterLab)."""
    want = {str((jobs_dir / str(i)).resolve()): i for i in ids}
    out: dict[int, dict[str, float]] = {i: {} for i in ids}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
            with open(f"/proc/{entry}/stat") as f:
                comm, rest = f.read().split(" (", 1)[1].rsplit(")", 1)
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except (OSError, ValueError):
            continue
        if cwd in want:
            fields = rest.split()
            script = argv[1].decode() if comm.startswith("python") and len(argv) > 1 else comm
            name = "jupyter-lab" if script == "-c" and b"jupyterlab" in argv[2] else Path(script).name
            per = out[want[cwd]]
            per[name] = per.get(name, 0.0) + sum(int(x) for x in fields[11:15]) / tick
    return out


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--students", type=int, default=30)
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    ap.add_argument("--jupyter", default=None, help="AICC_SESSION_JUPYTER for the sessions (default: the center's)")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="aicc-class-"))
    os.chmod(home, 0o711)
    port = 18000 + os.getpid() % 1000
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICC_")}
    env.update(AICC_HOME=str(home / "var"), AICC_TICK_SECONDS="0.5", AICC_SESSION_POLL="5")
    if args.jupyter:
        env["AICC_SESSION_JUPYTER"] = args.jupyter
    student_tokens = build(env, args.students)
    aicc = str(Path(sys.executable).with_name("aicc"))
    server = subprocess.Popen([aicc, "server", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(home / "server.log", "wb"))  # noqa: SIM115
    load = os.getloadavg()[0]
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        sent: dict[int, float] = {}
        ready: dict[int, float] = {}
        errors: list[str] = []
        t0 = time.monotonic()

        def student(i: int, token: str) -> None:
            time.sleep(max(0.0, t0 + i * args.window / args.students - time.monotonic()))
            c = httpx.Client(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=60)
            start = time.monotonic()
            r = c.post("/sessions", json={"project": "class-2027", "idle_limit_s": 0, "time_limit_s": 3600})
            if r.status_code != 201:
                errors.append(r.text)
                return
            sid = r.json()["id"]
            sent[sid] = start - t0
            while time.monotonic() - t0 < args.timeout:
                v = c.get(f"/sessions/{sid}").json()
                if v["phase"] == "ready":
                    ready[sid] = time.monotonic() - start
                    return
                if v["phase"] == "ended":
                    errors.append(f"{sid}: {v.get('ended_why')}")
                    return
                time.sleep(0.5)

        threads = [threading.Thread(target=student, args=(i, t)) for i, t in enumerate(student_tokens)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        window = max(sent.values()) if sent else 0.0
        time.sleep(10)  # idle: the servers settle after their start
        memory = session_memory(home / "var" / "jobs", list(ready))
        cpu = session_cpu(home / "var" / "jobs", list(ready))
        programs = sorted({k for per in cpu.values() for k in per})
        cpu_by = {k: round(statistics.fmean(per.get(k, 0.0) for per in cpu.values()), 2) for k in programs} \
            if cpu else {}
        per = [kib / 1024 for kib in memory.values() if kib]
        secs = list(ready.values())
        report: dict[str, Any] = {
            "machine": machine(), "load_average_at_start": round(load, 1), "students": args.students,
            "requests_sent_within_s": round(window, 2), "ready": len(ready), "errors": errors[:5],
            "ready_s": {"p50": round(statistics.median(secs), 1), "p95": round(pct(secs, 95), 1),
                        "max": round(max(secs), 1), "min": round(min(secs), 1)} if secs else None,
            "idle_session_memory_mib": {"mean": round(statistics.fmean(per), 1), "max": round(max(per), 1)}
            if per else None,
            "cpu_s_per_session": {"total": round(sum(cpu_by.values()), 2), "by_program": cpu_by},
        }
    finally:
        admin_stop(home, server)  # stop the class: runs outlive the server by design
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "class_start.json").write_text(json.dumps(report, indent=2) + "\n")
    m, r = report["machine"], report
    rs, mem = r["ready_s"] or {}, r["idle_session_memory_mib"] or {}
    title = f"{r['students']} students start JupyterLab sessions within {args.window:g} s"
    load_, errors_ = r["load_average_at_start"], len(r["errors"])
    (args.out / "class_start.md").write_text(f"""# A class starts: {title}

Machine: {m['cpus']} cores, {m['cpu_model']}, {m['memory_gib']} GiB; load average at start {load_}
(other work on the machine competes for the same cores: compare runs at a similar load).

- requests sent within {r['requests_sent_within_s']} s; ready: {r['ready']} of {r['students']}; errors: {errors_}
- time from `POST /sessions` to `ready`: p50 **{rs.get('p50')} s**, p95 **{rs.get('p95')} s**,
  min {rs.get('min')} s, max {rs.get('max')} s
- memory per idle session (PSS of its server and the bubblewrap processes around it, no kernel started):
  mean **{mem.get('mean')} MiB**, max {mem.get('max')} MiB

- CPU seconds per session once idle (its processes, by program): {r['cpu_s_per_session']}

Live path: `aicc server` with its controller, local engine, each session isolated by the runner under the
project's uid; JupyterLab {jupyter_version(args.jupyter)} ({args.jupyter or 'the center default'}). Ready means
the server's watcher (every 0.5 s for sessions still starting) got JupyterLab's `/api/status` through the
session's socket. Admission and the engine's start take well under a second per session (see the job rows'
admitted_at/started_at); the rest is the 30 JupyterLab start-ups sharing the machine's cores. Run as root:
`.venv/bin/python bench/class_start.py [--jupyter PATH]`.
""")
    print(json.dumps(report, indent=2))


def jupyter_version(path: str | None = None) -> str:
    try:
        return subprocess.run([path or load_settings({}).session_jupyter, "--version"], capture_output=True,
                              text=True, timeout=30).stdout.strip()
    except OSError:
        return "?"


def admin_stop(home: Path, server: subprocess.Popen[bytes]) -> None:
    """Stop every session (cancel through the database's controller path: the server is still up), then it."""
    settings = load_settings({"AICC_HOME": str(home / "var")})
    db = Database(settings.database_url, audit_seal=AuditSeal.from_settings(settings))
    from sqlalchemy import select

    from aicc.store.models import JobRow

    with db.write() as s:  # ORM writes: stamped, so the controller sees them at once
        for job in s.execute(select(JobRow).where(JobRow.state.in_(["running", "admitted", "pending"]))).scalars():
            job.cancel_requested = True
    db.dispose()
    deadline = time.monotonic() + 60
    jobs_dir = home / "var" / "jobs"
    def live() -> list[Path]:  # a run directory per attempt (run-0, run-1 ...): started, not yet ended
        return [r for r in jobs_dir.glob("*/run-*") if (r / "state.json").exists() and not (r / "exit.json").exists()]

    while time.monotonic() < deadline and live():
        time.sleep(1)
    if live():
        print(f"class_start: {len(live())} sessions still running after the stop; their processes are left",
              file=sys.stderr)
    server.terminate()
    server.wait(30)


if __name__ == "__main__":
    main()
