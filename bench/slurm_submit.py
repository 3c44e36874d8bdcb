"""How fast can a client submit to the local Slurm cluster? The baseline AICC's own
submit path will be compared with (that half is added once the API exists).

    scripts/slurm-up && .venv/bin/python bench/slurm_submit.py --jobs 200

Measures a plain loop of ``sbatch --wrap true`` (one process per job, as a user's
shell loop would) and, for scale, one ``sbatch --array`` of the same size. Writes
bench/results/slurm_submit.json and .md with the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine(env: dict[str, str]) -> dict[str, object]:
    version = subprocess.run(
        ["sbatch", "--version"], env=env, capture_output=True, text=True, check=False
    ).stdout
    version = version or "slurm (version unknown)"
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "slurm": version.strip(),
    }


def sbatch(args: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(["sbatch", "--parsable", *args], env=env, check=True, capture_output=True, timeout=60)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--partition", default="cpu")
    parser.add_argument("--cluster-dir", default=os.environ.get("AICC_SLURM_DIR", "/tmp/aicc-slurm"))
    opts = parser.parse_args()

    env = {**os.environ, "SLURM_CONF": os.environ.get("SLURM_CONF", f"{opts.cluster_dir}/etc/slurm.conf")}
    common = [f"--partition={opts.partition}", "--job-name=aicc-bench", "--output=/dev/null", "--mem=10"]
    t0 = time.perf_counter()
    latencies = [sbatch([*common, "--wrap", "true"], env) for _ in range(opts.jobs)]
    loop_s = time.perf_counter() - t0
    array_s = sbatch([*common, f"--array=0-{opts.jobs - 1}", "--wrap", "true"], env)
    subprocess.run(["scancel", "--name=aicc-bench"], env=env, check=False, capture_output=True, timeout=60)

    ms = sorted(x * 1000 for x in latencies)
    result = {
        "benchmark": "slurm_submit",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(env),
        "jobs": opts.jobs,
        "sbatch_loop": {
            "total_s": round(loop_s, 3),
            "jobs_per_s": round(opts.jobs / loop_s, 1),
            "latency_ms_p50": round(statistics.median(ms), 2),
            "latency_ms_p95": round(ms[int(0.95 * (len(ms) - 1))], 2),
            "latency_ms_max": round(ms[-1], 2),
        },
        "sbatch_array": {"total_s": round(array_s, 4), "jobs": opts.jobs},
        "aicc_submit": None,  # filled in once the REST API / CLI exists
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "slurm_submit.json").write_text(json.dumps(result, indent=2) + "\n")
    loop = result["sbatch_loop"]
    (RESULTS / "slurm_submit.md").write_text(
        "# Slurm submit rate (baseline)\n\n"
        f"{result['when']} on {result['machine']['hostname']} ({result['machine']['cpus']} CPUs, "
        f"{result['machine']['slurm']}), local cluster from scripts/slurm-up.\n\n"
        "| what | jobs | total | rate | p50 | p95 |\n|---|---|---|---|---|---|\n"
        f"| `sbatch --wrap true` loop | {opts.jobs} | {loop['total_s']} s | {loop['jobs_per_s']} jobs/s "
        f"| {loop['latency_ms_p50']} ms | {loop['latency_ms_p95']} ms |\n"
        f"| one `sbatch --array` | {opts.jobs} | {array_s:.4f} s | - | - | - |\n\n"
        "AICC's own submit path (API/CLI) will be added to this table once it exists.\n"
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
