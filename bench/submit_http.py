"""Benchmark: job submission through the HTTP API on SQLite, 32 concurrent clients.

    apt-get install wrk     # the load generator (C; benchmarks are not in CI, so not in .ci/run)
    sudo .venv/bin/python bench/submit_http.py --processes 2 --anchor REV
    sudo .venv/bin/python bench/submit_http.py --processes 2 --postgres postgresql://aicc@127.0.0.1:5432/aicc

wrk POSTs jobs from a Lua script (written next to the server's home) when it is installed, the Python client
(httpx) otherwise, beside it. ``--anchor REV`` also measures the submission rate with the controller on that
git revision's code (its ``src/`` from ``git archive``), alternating with this tree's in the same run.
``--postgres URL`` runs every server on a fresh PostgreSQL database made beside URL's (``scripts/pg-up``)
instead of a SQLite file; results then go to ``submit_http_postgresql.{json,md}``.

Targets (issue "Jobs end to end"): >= 1,000 jobs/s sustained, p99 <= 50 ms; an array of
10,000 tasks <= 1 s; admission to process start on an idle center <= 50 ms median.
Starts a real `aicc server` (uvicorn) on a free port with a fresh demo center.
Writes bench/results/submit_http.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine

AICC = str(Path(sys.executable).with_name("aicc"))
POSTGRES: str | None = None
SERVER_DB: dict[str, str] = {}
"""Each started server's database URL, by the server's URL."""
"""``--postgres``: the server URL whose cluster gets a fresh database per server start."""


def fresh_postgres(name: str) -> str:
    """A new, empty database on the ``--postgres`` cluster, for one server start."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    assert POSTGRES is not None
    db = "aicc_bench_" + "".join(c if c.isalnum() else "_" for c in name)
    admin = create_engine(make_url(POSTGRES).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{db}"'))
    admin.dispose()
    return make_url(POSTGRES).set(database=db).render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path, controller: bool, processes: int = 1, src: Path | None = None
                 ) -> tuple[subprocess.Popen[bytes], str, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AICC_HOME": str(home), "AICC_CONFIG_DIR": str(home / "cfg"),
           "AICC_CONTROLLER": "on" if controller else "off", "AICC_TICK_SECONDS": "0.5"}
    if POSTGRES is not None:
        env["AICC_DATABASE_URL"] = fresh_postgres(home.name)
    SERVER_DB[url] = env.get("AICC_DATABASE_URL") or f"sqlite:///{home / 'aicc.db'}"
    if src is not None:  # another revision's code (--anchor)
        env["PYTHONPATH"] = str(src)
    subprocess.run([AICC, "db", "upgrade"], env=env, check=True, capture_output=True)
    out = subprocess.run([AICC, "demo", "--url", url], env=env, check=True, capture_output=True, text=True).stdout
    token = next(line.split()[-1] for line in out.splitlines() if line.startswith("token for bob"))
    proc = subprocess.Popen([AICC, "server", "--port", str(port), "--processes", str(processes)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return proc, url, token
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start")


async def load(url: str, token: str, total: int, concurrency: int) -> tuple[float, list[float]]:
    body = {"project": "haneul-llm", "command": ["true"], "flavors": ["cpu"], "time_limit_s": 600}
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker(client: httpx.AsyncClient) -> None:
        for _ in counter:
            t0 = time.perf_counter()
            r = await client.post("/api/v1/jobs", json=body)
            latencies.append(time.perf_counter() - t0)
            if r.status_code != 201:
                raise RuntimeError(r.text)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                 timeout=60) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - t0, latencies


def wrk_load(url: str, token: str, seconds: int, concurrency: int, workdir: Path) -> dict[str, float]:
    """Drive the API with wrk (C, negligible client cost) when it is installed; the numbers are the server's."""
    script = workdir / "submit.lua"
    body = json.dumps({"project": "haneul-llm", "command": ["true"], "flavors": ["cpu"], "time_limit_s": 600})
    script.write_text(f"wrk.method = 'POST'\nwrk.body = '{body}'\n"
                      "wrk.headers['Content-Type'] = 'application/json'\n"
                      f"wrk.headers['Authorization'] = 'Bearer {token}'\n")
    out = subprocess.run(["wrk", "-t2", f"-c{concurrency}", f"-d{seconds}s", "--latency", "-s", str(script),
                          url + "/api/v1/jobs"], capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        value = next(line.split()[1] for line in out.splitlines() if line.strip().startswith(label))
        return float(value[:-2]) if value.endswith("ms") else float(value[:-1]) * 1000 if value.endswith("s") \
            else float(value[:-2]) / 1000
    errors = [line for line in out.splitlines() if "Non-2xx" in line]
    if errors:
        raise RuntimeError(out)
    rate = float(next(line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec")))
    return {"jobs_per_s": round(rate, 1), "p50_ms": ms("50%"), "p99_ms": ms("99%"), "client": "wrk"}


def use_wrk(args: argparse.Namespace) -> bool:
    return args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)


def job_cost(n: int) -> dict[str, dict[str, object]]:
    """What running a job costs the machine, apart from the API and the scheduler: ``n`` jobs running ``true``
    started at once through the real local executor (zygote, shepherd, runner, bubblewrap), isolated as the
    controller starts them and bare (the runner bypassed, for comparison), in a cpuacct cgroup of their own
    (cgroups v1 as on this machine) whose CPU total covers every process of theirs."""
    acct = Path("/sys/fs/cgroup/cpuacct")
    own = next(line.split(":", 2)[2] for line in Path("/proc/self/cgroup").read_text().splitlines()
               if line.split(":")[1].split(",").count("cpuacct"))
    got: dict[str, dict[str, object]] = {}
    for mode in ("isolated", "bare"):
        group = acct / own.lstrip("/") / f"aicc-bench-jobs-{os.getpid()}-{mode}"
        group.mkdir()
        script = (f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); "
                  f"import submit_http; submit_http._job_cost_child({n}, {mode == 'bare'}, {str(group)!r})")
        try:
            out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True,
                                 timeout=600).stdout
        finally:  # the executor's zygote may outlive the child a moment: retry until the group is empty
            for _ in range(50):
                for child in sorted((d for d in group.rglob("*") if d.is_dir()), reverse=True):
                    with contextlib.suppress(OSError):
                        child.rmdir()
                with contextlib.suppress(OSError):
                    group.rmdir()
                if not group.exists():
                    break
                time.sleep(0.1)
        got[mode] = json.loads(out.splitlines()[-1])
    return got


def _job_cost_child(n: int, bare: bool, group: str) -> None:
    """In a child process that first moves itself into ``group``: start ``n`` jobs, wait for all, print."""
    import isolation_start as iso

    from aicc.executors.local import LocalExecutor

    Path(group, "cgroup.procs").write_text(str(os.getpid()))
    usage = Path(group, "cpuacct.usage")
    iso.FIRST[:] = ["true"]
    with tempfile.TemporaryDirectory(prefix="aicc-bench-jobs-") as tmp:
        os.chmod(tmp, 0o711)
        jobs = Path(tmp) / "jobs"
        jobs.mkdir()
        os.chmod(jobs, 0o711)
        ex = (iso.BareExecutor if bare else LocalExecutor)(jobs)
        iso.wait_all(ex, [(1, ex.start(iso.launch(jobs, 1)))])  # the zygote up and warm
        u0, t0 = int(usage.read_text()), time.time()
        ids = [(100 + i, ex.start(iso.launch(jobs, 100 + i))) for i in range(n)]
        phases = iso.wait_all(ex, ids)
        t1, u1 = time.time(), int(usage.read_text())
    print(json.dumps({"jobs": n, "wall_s": round(t1 - t0, 2), "jobs_per_s": round(n / (t1 - t0), 1),
                      "cpu_s": round((u1 - u0) / 1e9, 2), "cpu_ms_per_job": round((u1 - u0) / 1e6 / n, 1),
                      "phases": phases}))


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's workers, the controller process; not the detached shepherds)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
    return out


def _cpu_s(pids: list[int]) -> dict[int, float]:
    tick = os.sysconf("SC_CLK_TCK")
    got = {}
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            got[p] = (int(fields[11]) + int(fields[12])) / tick
        except OSError:
            pass
    return got


def _role(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "gone"
    return "controller" if b"controller" in cmd else "api" if b"multiprocessing" in cmd or b"server" in cmd \
        else "other"


def _jobs_started(db_url: str, since: float, until: float) -> dict[str, int]:
    """How many jobs the controller started and finished within the load window, and the states at its end."""
    import datetime as dt

    from sqlalchemy import create_engine, text

    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    a, b = (dt.datetime.fromtimestamp(t, dt.UTC).replace(tzinfo=None) for t in (since, until))
    with engine.connect() as c:
        started = c.execute(text("SELECT count(*) FROM jobs WHERE started_at >= :a AND started_at < :b"),
                            {"a": a, "b": b}).scalar_one()
        ended = c.execute(text("SELECT count(*) FROM jobs WHERE ended_at >= :a AND ended_at < :b"),
                          {"a": a, "b": b}).scalar_one()
        states = dict(c.execute(text("SELECT state, count(*) FROM jobs GROUP BY state")).all())
    engine.dispose()
    return {"started_in_window": int(started), "ended_in_window": int(ended), **{str(k): int(v) for k, v in
                                                                                  states.items()}}


def measure(tmp: Path, name: str, args: argparse.Namespace, src: Path | None, controller: bool = True
            ) -> dict[str, object]:
    """The submission rate on a fresh center (with the controller scheduling and running every job, or API
    only), with the CPU seconds each server process spent and, with the controller, what it started meanwhile."""
    home = tmp / name
    proc, url, token = start_server(home, controller=controller, processes=args.processes, src=src)
    try:
        asyncio.run(load(url, token, 200, args.concurrency))  # warm up
        pids = _tree(proc.pid)
        before, t0 = _cpu_s(pids), time.time()
        if use_wrk(args):
            got: dict[str, object] = {**wrk_load(url, token, args.seconds, args.concurrency, home)}
        else:
            wall, lat = asyncio.run(load(url, token, args.jobs, args.concurrency))
            got = {"jobs_per_s": round(args.jobs / wall, 1), "p50_ms": round(pct(lat, 0.5), 2),
                   "p99_ms": round(pct(lat, 0.99), 2), "client": "httpx"}
        t1, after = time.time(), _cpu_s(pids)
        cpu: dict[str, float] = {}
        for p, used in after.items():
            role = _role(p)
            cpu[role] = round(cpu.get(role, 0.0) + used - before.get(p, 0.0), 2)
        got["cpu_s"] = cpu
        got["window_s"] = round(t1 - t0, 2)
        if controller:
            got["controller_work"] = _jobs_started(SERVER_DB[url], t0, t1)
        return got
    finally:
        proc.terminate()
        proc.wait()


def with_controller(tmp: Path, name: str, args: argparse.Namespace, src: Path | None) -> dict[str, object]:
    return measure(tmp, name, args, src, controller=True)


def compare(args: argparse.Namespace) -> None:
    """This tree beside ``args.anchor``, alternating, API only and with the controller on each round:
    bench/results/submit_http_compare_*."""
    repo = Path(__file__).resolve().parent.parent
    runs: dict[str, list[dict[str, object]]] = {}
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="aicc-bench-") as tmp:
        os.chmod(tmp, 0o711)
        archive = subprocess.run(["git", "-C", str(repo), "archive", args.anchor, "src"], check=True,
                                 capture_output=True).stdout
        (Path(tmp) / "anchor").mkdir()
        subprocess.run(["tar", "-x", "-C", str(Path(tmp) / "anchor")], input=archive, check=True)
        for i in range(args.rounds):
            for controller in (False, True):
                mode = "with controller" if controller else "API only"
                for code, src in ((args.anchor, Path(tmp) / "anchor" / "src"), ("this tree", None)):
                    tag = f"{'anchor' if src else 'tree'}-{'ctl' if controller else 'api'}-{i}"
                    runs.setdefault(f"{code}, {mode}", []).append(measure(Path(tmp), tag, args, src, controller))
                    print(f"{code}, {mode}, round {i + 1}:", runs[f"{code}, {mode}"][-1], flush=True)
    backend = "PostgreSQL" if POSTGRES else "SQLite"
    result = {"benchmark": "submit_http_compare", "database": backend, "processes": args.processes,
              "concurrency": args.concurrency, "seconds": args.seconds, "runs": runs, "machine": machine(),
              "load_average_start_end": [round(load_start, 1), round(os.getloadavg()[0], 1)],
              "targets": {"jobs_per_s": 1500, "p99_ms": 100}}
    out = Path(__file__).resolve().parent / "results"
    name = f"submit_http_compare_{args.processes}proc" + ("_postgresql" if POSTGRES else "") + \
        ("" if use_wrk(args) else "_httpx")
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    render_compare(result, args, out / f"{name}.md")


def render_compare(result: dict[str, Any], args: argparse.Namespace, md: Path) -> None:
    """The Markdown table of a comparison (also from its JSON: ``--render-compare FILE``)."""
    runs: dict[str, list[dict[str, object]]] = result["runs"]
    backend = result.get("database", "SQLite")
    client = next(iter(runs.values()))[0]["client"]
    lines = [f"# Submission, API only and with the controller running every job: {args.anchor} vs this tree", "",
             f"{backend}, `aicc server --processes {args.processes}`, {args.concurrency} connections, {client} for "
             f"{args.seconds} s per run, alternating ({args.rounds} rounds), each on a fresh demo center. "
             f"Goal: >= 1,500 jobs/s, p99 <= 100 ms, with the controller running every job.", "",
             f"Run: `sudo .venv/bin/python bench/submit_http.py --processes {args.processes} --anchor {args.anchor} "
             f"--client {args.client}" + (" --postgres URL" if backend == "PostgreSQL" else "") + "`", "",
             "| code, mode | round | jobs/s | p50 ms | p99 ms | CPU s (API / controller) | API CPU ms per job | "
             "started / ended by the controller in the window |", "|---|---|---|---|---|---|---|---|"]
    for code, got in runs.items():
        for i, r in enumerate(got):
            cpu = r["cpu_s"]
            assert isinstance(cpu, dict)
            work = r.get("controller_work")
            done = f"{work['started_in_window']} / {work['ended_in_window']}" if isinstance(work, dict) else "-"
            per_job = cpu.get("api", 0) * 1000 / (float(r["jobs_per_s"]) * float(r["window_s"]))  # type: ignore[arg-type]
            lines.append(f"| {code} | {i + 1} | {r['jobs_per_s']} | {r['p50_ms']} | {r['p99_ms']} | "
                         f"{cpu.get('api', 0)} / {cpu.get('controller', 0)} in {r['window_s']} s | {per_job:.2f} | "
                         f"{done} |")
    m = result["machine"]
    assert isinstance(m, dict)
    lines += ["", f"Machine: {m['cpus']} cores, {m['cpu_model']}; the load generator runs on it too; load average "
              f"{result['load_average_start_end'][0]} at start, {result['load_average_start_end'][1]} at the end "
              "(shared with other sessions: compare the rows of one run, not runs; the absolute figures need a "
              "quiet machine).", ""]
    md.write_text("\n".join(lines))
    print("\n".join(lines))


def pct(values: list[float], p: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * p))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jobs", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--seconds", type=int, default=10, help="wrk run length")
    ap.add_argument("--processes", type=int, default=1, help="server processes (one elected controller)")
    ap.add_argument("--anchor", metavar="REV", help="also measure the rate with the controller on this git "
                    "revision's code, alternating with this tree's")
    ap.add_argument("--rounds", type=int, default=2, help="alternations with --anchor")
    ap.add_argument("--client", choices=("auto", "wrk", "httpx"), default="auto",
                    help="load generator: wrk when installed (auto), or the Python client")
    ap.add_argument("--job-cost", type=int, default=100, metavar="N", help="also start N `true` jobs at once "
                    "through the local executor, isolated and bare, and measure the CPU they cost (0: skip)")
    ap.add_argument("--postgres", metavar="URL", help="PostgreSQL instead of SQLite: a fresh database per server "
                    "on this server's cluster (e.g. the URL scripts/pg-up prints)")
    ap.add_argument("--render-compare", metavar="JSON", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.render_compare:  # the Markdown of an earlier comparison, from its JSON
        result = json.loads(args.render_compare.read_text())
        args.processes, args.concurrency, args.seconds = result["processes"], result["concurrency"], result["seconds"]
        args.rounds = len(next(iter(result["runs"].values())))
        args.anchor = next(iter(result["runs"])).split(",")[0]
        render_compare(result, args, args.render_compare.with_suffix(".md"))
        return
    global POSTGRES
    POSTGRES = args.postgres
    if args.anchor:
        compare(args)
        return
    result: dict[str, object] = {"benchmark": "submit_http", "jobs": args.jobs, "concurrency": args.concurrency,
                                 "processes": args.processes, "database": "PostgreSQL" if POSTGRES else "SQLite"}
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="aicc-bench-") as tmp:
        os.chmod(tmp, 0o711)  # jobs run as their project's uid and pass through to their own directory
        proc, url, token = start_server(Path(tmp) / "api-only", controller=False, processes=args.processes)
        try:
            asyncio.run(load(url, token, 200, args.concurrency))  # warm up
            if use_wrk(args):
                result["api_only"] = wrk_load(url, token, args.seconds, args.concurrency, Path(tmp))
            else:
                wall, lat = asyncio.run(load(url, token, args.jobs, args.concurrency))
                result["api_only"] = {"jobs_per_s": round(args.jobs / wall, 1), "p50_ms": round(pct(lat, 0.5), 2),
                                      "p99_ms": round(pct(lat, 0.99), 2), "client": "httpx"}
            h = {"Authorization": f"Bearer {token}"}
            t0 = time.perf_counter()
            r = httpx.post(url + "/api/v1/jobs", headers=h, timeout=60, json={
                "project": "haneul-llm", "command": ["true"], "flavors": ["cpu"], "array": "0-9999"})
            result["array_10000_s"] = round(time.perf_counter() - t0, 3)
            assert r.status_code == 201 and len(r.json()["ids"]) == 10_000, r.text
        finally:
            proc.terminate()
            proc.wait()
        proc, url, token = start_server(Path(tmp) / "with-controller", controller=True, processes=args.processes)
        try:
            h = {"Authorization": f"Bearer {token}"}
            starts = []
            for _ in range(20):
                t0 = time.time()
                r = httpx.post(url + "/api/v1/jobs", headers=h, json={
                    "project": "haneul-llm", "flavors": ["cpu"], "command": ["true"]})
                job_id = r.json()["id"]
                for _ in range(400):
                    job = httpx.get(f"{url}/api/v1/jobs/{job_id}", headers=h).json()
                    if job["started_at"]:
                        break
                    time.sleep(0.01)
                started = time.mktime(time.strptime(job["started_at"][:19], "%Y-%m-%dT%H:%M:%S")) + \
                    float("0." + job["started_at"][20:26]) - time.timezone
                admitted = time.mktime(time.strptime(job["admitted_at"][:19], "%Y-%m-%dT%H:%M:%S")) + \
                    float("0." + job["admitted_at"][20:26]) - time.timezone
                starts.append(((started - admitted) * 1000, (started - t0) * 1000))
            result["admission_to_start_ms_median"] = round(statistics.median(a for a, _ in starts), 1)
            result["submit_to_start_ms_median"] = round(statistics.median(b for _, b in starts), 1)
        finally:
            proc.terminate()
            proc.wait()
        result["with_controller"] = measure(Path(tmp), "with-controller-load", args, None, controller=True)
    if args.job_cost:
        result["job_cost"] = job_cost(args.job_cost)
    result["targets"] = {"jobs_per_s": 1000, "p99_ms": 50, "array_10000_s": 1.0, "admission_to_start_ms": 50,
                         "with_controller": {"jobs_per_s": 1500, "p99_ms": 100}}
    result["machine"] = machine()
    result["load_average_start_end"] = [round(load_start, 1), round(os.getloadavg()[0], 1)]
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    name = "submit_http" + ("_postgresql" if POSTGRES else "")
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    a, c, m = result["api_only"], result["with_controller"], result["machine"]
    backend = "PostgreSQL" if POSTGRES else "SQLite"
    work = c["controller_work"]  # type: ignore[index]
    md = (f"# Submission through the HTTP API ({backend}, `aicc server --processes {args.processes}`, "
          f"{args.concurrency} concurrent clients)\n\n"
          f"Machine: {m['cpus']} cores, {m['cpu_model']}, Python {m['python']}; the load generator "  # type: ignore[index]
          f"({a['client']}, 2 threads) runs on the same machine.\n\n| measure | result | target |\n|---|---|---|\n"
          f"| API only: sustained rate | {a['jobs_per_s']} jobs/s (p50 {a['p50_ms']} ms, p99 {a['p99_ms']} ms) | "  # type: ignore[index]
          "≥ 1,000 jobs/s, p99 ≤ 50 ms |\n"
          f"| with the controller running every job | {c['jobs_per_s']} jobs/s (p50 {c['p50_ms']} ms, "  # type: ignore[index]
          f"p99 {c['p99_ms']} ms); it started {work['started_in_window']} and ended {work['ended_in_window']} "
          f"jobs in those {c['window_s']} s | ≥ 1,500 jobs/s, p99 ≤ 100 ms |\n"  # type: ignore[index]
          f"| array of 10,000 tasks | {result['array_10000_s']} s | ≤ 1 s |\n"
          f"| admission → process start (idle center) | {result['admission_to_start_ms_median']} ms median "
          "| ≤ 50 ms |\n"
          f"| submit → process start (idle center) | {result['submit_to_start_ms_median']} ms median | |\n")
    if args.job_cost:
        jc = result["job_cost"]
        md += "".join(f"| one `true` job through the local executor, {mode} ({jc[mode]['jobs']} at once) | "  # type: ignore[index]
                      f"{jc[mode]['cpu_ms_per_job']} ms CPU per job, {jc[mode]['jobs_per_s']} jobs/s | |\n"  # type: ignore[index]
                      for mode in ("isolated", "bare"))
    md += (f"\nLoad average {result['load_average_start_end'][0]} at start, {result['load_average_start_end'][1]} at "
           "the end (other sessions share the machine: the absolute figures need a quiet one). What the figures "
           "mean and where the time goes: `submit_http_notes.md`.\n")
    (out / f"{name}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
