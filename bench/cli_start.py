"""How fast `aicc` answers at the shell, beside Slurm's own commands on the same machine (issue 25: `aicc --help`,
`aicc jobs` and `aicc submit` should start in <= 100 ms).

    .venv/bin/python bench/cli_start.py [--runs 20]

Each command is a fresh process, as a user's shell runs it; the runs alternate between the commands so a
busy moment hurts all alike. Only start-up and argument handling are timed (``--help``, ``--version``): what a
command then does over HTTP is the server's figure (bench/submit_http.py). Slurm's ``sbatch``/``squeue``
``--help`` are the anchor when Slurm is installed. Writes bench/results/cli_start.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    commands = dict(COMMANDS)
    commands.update({k: v for k, v in ANCHORS.items() if shutil.which(v[0])})
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(args.runs):
        for name, argv in commands.items():
            t0 = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            times[name].append((time.perf_counter() - t0) * 1000)
    rows = {k: {"median_ms": round(statistics.median(v), 1), "p90_ms": round(sorted(v)[int(0.9 * len(v)) - 1], 1)}
            for k, v in times.items()}
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    doc = {"machine": machine(), "runs": args.runs, "commands": rows, "goal_ms": 100}
    (out / "cli_start.json").write_text(json.dumps(doc, indent=2) + "\n")
    md = ["# CLI start-up (`aicc` beside Slurm's commands)", "", f"Machine: {doc['machine']}", "",
          "| command | median ms | p90 ms |", "|---|---|---|"]
    md += [f"| `{k}` | {r['median_ms']} | {r['p90_ms']} |" for k, r in rows.items()]
    md += ["", "Goal (issue 25): `aicc --help`, `aicc jobs`, `aicc submit` start in <= 100 ms. Each run is a new "
           "process; only start-up and option handling are timed."]
    (out / "cli_start.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
