"""How fast `aicc` answers at the shell, beside Slurm's own commands on the same machine (issue 25: `aicc --help`,
`aicc jobs` and `aicc submit` should start in <= 100 ms).

    eval "$(scripts/slurm-up)"; .venv/bin/python bench/cli_start.py [--runs 20] [--no-live]

Each command is a fresh process, as a user's shell runs it; the runs alternate between the commands so a
busy moment hurts all alike. First start-up and argument handling alone (``--help``, ``--version``); then the
live path: ``aicc jobs`` and ``aicc submit`` against a demo center started here (``aicc server`` on a free port,
SQLite, its controller on), beside ``squeue`` and ``sbatch --test-only`` against the Slurm cluster of
``scripts/slurm-up`` when ``SLURM_CONF`` is set. Writes bench/results/cli_start.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine

AICC = str(Path(sys.executable).with_name("aicc"))
COMMANDS = {
    "aicc --version": [AICC, "--version"],
    "aicc --help": [AICC, "--help"],
    "aicc submit --help": [AICC, "submit", "--help"],
    "aicc jobs --help": [AICC, "jobs", "--help"],
}
ANCHORS = {"sbatch --help": ["sbatch", "--help"], "squeue --help": ["squeue", "--help"]}


CPU: dict[str, list[float]] = {}
"""Per command, the CPU time (user + system) of each run: what the command costs, less sensitive than the wall
time to other work on a shared machine."""


def timed(commands: dict[str, list[str]], runs: int, env: dict[str, str] | None = None) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env)
            times[name].append((time.perf_counter() - t0) * 1000)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            CPU.setdefault(name, []).append((r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000)
    return times


@contextmanager
def demo_center() -> Iterator[dict[str, str]]:
    """A demo center in a scratch directory (SQLite), served on a free port; yields the env for bob's CLI."""
    with tempfile.TemporaryDirectory() as home, socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AICC_")}
        env.update(AICC_HOME=f"{home}/var", AICC_CONFIG_DIR=f"{home}/config", AICC_URL=url)
        subprocess.run([AICC, "db", "upgrade"], env=env, check=True, capture_output=True)
        out = subprocess.run([AICC, "demo", "--url", url], env=env, check=True, capture_output=True, text=True)
        env["AICC_TOKEN"] = next(line.split()[-1] for line in out.stdout.splitlines()
                                 if line.startswith("token for bob"))
        server = subprocess.Popen([AICC, "server", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            for _ in range(300):
                try:
                    if urllib.request.urlopen(url + "/readyz", timeout=1).status == 200:
                        break
                except OSError:
                    time.sleep(0.1)
            yield env
        finally:
            server.terminate()
            server.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--no-live", action="store_true", help="Only the start-up figures (no server, no Slurm).")
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    commands = dict(COMMANDS)
    commands.update({k: v for k, v in ANCHORS.items() if shutil.which(v[0])})
    times = timed(commands, args.runs)
    if not args.no_live:
        with demo_center() as env:
            live = {"aicc jobs (live)": [AICC, "jobs"],
                    "aicc submit (live)": [AICC, "submit", "-p", "cpu", "-t", "1m", "--", "true"]}
            if os.environ.get("SLURM_CONF") and shutil.which("squeue"):
                live["squeue (live)"] = ["squeue"]
                live["sbatch --test-only (live)"] = ["sbatch", "--test-only", "--wrap", "true"]
            times.update(timed(live, args.runs, env))
    rows = {k: {"median_ms": round(statistics.median(v), 1), "p90_ms": round(sorted(v)[int(0.9 * len(v)) - 1], 1),
                "cpu_median_ms": round(statistics.median(CPU[k]), 1)} for k, v in times.items()}
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    load = (round(load_before, 1), round(os.getloadavg()[0], 1))
    doc = {"machine": machine(), "runs": args.runs, "commands": rows, "goal_ms": 100, "load_average": load}
    (out / "cli_start.json").write_text(json.dumps(doc, indent=2) + "\n")
    md = ["# CLI start-up (`aicc` beside Slurm's commands)", "", f"Machine: {doc['machine']}", "",
          f"Load average (1 min) at start and end: {load[0]} and {load[1]} (other work on the machine stretches "
          "wall times; the CPU column is what each command itself used).", "",
          "| command | median ms | p90 ms | CPU ms (median) |", "|---|---|---|---|"]
    md += [f"| `{k}` | {r['median_ms']} | {r['p90_ms']} | {r['cpu_median_ms']} |" for k, r in rows.items()]
    md += ["", "Goal (issue 25): `aicc --help`, `aicc jobs`, `aicc submit` start in <= 100 ms. Each run is a new "
           "process. The first rows time start-up and option handling only; the (live) rows time the whole "
           "command against a demo center on this machine (SQLite, controller on) and Slurm's own commands "
           "against the cluster of scripts/slurm-up (`sbatch --test-only`: checked, not queued)."]
    (out / "cli_start.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
