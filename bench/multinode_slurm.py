"""Multi-node start on Slurm: from admission to every rank running, AICC vs a plain ``sbatch`` + ``srun``.

    eval "$(scripts/slurm-up)" && .venv/bin/python bench/multinode_slurm.py --trials 10

One trial of each, alternating, on the same two slurmd nodes (node3 and node1 of the test cluster, partition
``multi``): each rank prints the wall-clock time it started, and the figure is the last rank's start less
the moment the job was handed to the engine. AICC: ``SlurmExecutor.start`` of a placed two-node gang (the
live path: batch script, hostfile, one run spec per rank, ``sbatch``; the ranks through the runner as the
project's uid in bubblewrap); and the same with isolation off, to show what the runner costs. Plain: the
``sbatch --wrap "srun …"`` a user would type. Goal: plain / AICC >= 0.9. Writes
bench/results/multinode_slurm_latest.json and .md with the machine it ran on (multinode_slurm.md
compares the recorded runs).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._machine import machine

from aicc.executors.base import Launch, Placement
from aicc.executors.slurm import SlurmConfig, SlurmExecutor

RESULTS = Path(__file__).resolve().parent / "results"
PROBE = "import time; print(repr(time.time()), flush=True)"
UID = 200_077


def wait_lines(path: Path, n: int, timeout: float = 120) -> list[float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            stamps = []
            for line in path.read_text().splitlines():
                try:
                    stamps.append(float(line.split(":", 1)[-1].strip()))
                except ValueError:
                    continue
            if len(stamps) >= n:
                return stamps
        time.sleep(0.02)
    raise TimeoutError(f"{path}: fewer than {n} ranks started")


def aicc_trial(executor: SlurmExecutor, root: Path, isolate: bool) -> float:
    name = f"aicc-bench-mn-{uuid.uuid4().hex[:8]}"
    launch = Launch(job_id=1, attempt=1, name=name, argv=["python3", "-c", PROBE], workdir=root / name, env={},
                    flavor="cpu", device_env=None, placements=[Placement("node3"), Placement("node1")], cpus=2,
                    memory_mb=200, time_limit_s=120, partition="multi", unix_uid=UID if isolate else None)
    t0 = time.time()
    executor.start(launch)
    return max(wait_lines(launch.workdir / "stdout.log", 2)) - t0


def plain_trial(env: dict[str, str], root: Path) -> float:
    out = root / f"plain-{uuid.uuid4().hex[:8]}.log"
    t0 = time.time()
    subprocess.run(["sbatch", "--parsable", "--job-name=aicc-bench-mn", "--partition=multi", "--nodes=2",
                    "--nodelist=node1,node3", "--ntasks-per-node=1", "--cpus-per-task=1", "--mem=100M",
                    f"--output={out}", "--wrap", f"srun --label python3 -c '{PROBE}'"],
                   env=env, check=True, capture_output=True, timeout=60)
    return max(wait_lines(out, 2)) - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--cluster-dir", default=os.environ.get("AICC_SLURM_DIR", "/tmp/aicc-slurm"))
    opts = parser.parse_args()
    config = SlurmConfig.from_cluster_dir(Path(opts.cluster_dir))
    env = {**os.environ, "SLURM_CONF": str(config.slurm_conf)}
    isolated, bare = SlurmExecutor(config), SlurmExecutor(config, isolate=False)
    times: dict[str, list[float]] = {"aicc": [], "aicc_unisolated": [], "plain": []}
    with tempfile.TemporaryDirectory(prefix="aicc-bench-mn-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o711)
        for _ in range(opts.trials):
            times["plain"].append(plain_trial(env, root))
            times["aicc"].append(aicc_trial(isolated, root, True))
            times["aicc_unisolated"].append(aicc_trial(bare, root, False))
    subprocess.run(["scancel", "--name=aicc-bench-mn"], env=env, check=False, capture_output=True, timeout=60)
    summary = {k: {"median_s": round(statistics.median(v), 3), "min_s": round(min(v), 3), "max_s": round(max(v), 3),
                   "trials": [round(x, 3) for x in v]} for k, v in times.items()}
    ratio = summary["plain"]["median_s"] / summary["aicc"]["median_s"]
    result = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": machine(),
              "load_average_1m_at_end": round(os.getloadavg()[0], 1),
              "what": "admission to all ranks running, 2-node job on the local Slurm test cluster",
              "results": summary, "ratio_plain_over_aicc": round(ratio, 3), "goal": ">= 0.9"}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "multinode_slurm_latest.json").write_text(json.dumps(result, indent=2) + "\n")
    m = result["machine"]
    rows = "\n".join(f"| {k} | {v['median_s']} s | {v['min_s']} s | {v['max_s']} s |" for k, v in summary.items())
    (RESULTS / "multinode_slurm_latest.md").write_text(
        f"# Multi-node start on Slurm: admission to all ranks running\n\n{result['when']} on {m['cpus']} CPUs "
        f"({m['cpu_model']}), Slurm 22.05 test cluster from scripts/slurm-up (all slurmd on one machine), "
        f"{opts.trials} trials each, alternating; load average {result['load_average_1m_at_end']} at the end "
        "(the machine is shared: medians, not single runs).\n\n"
        f"| path | median | min | max |\n|---|---|---|---|\n{rows}\n\n"
        f"plain / AICC (isolated) = **{ratio:.2f}** (goal >= 0.9). `aicc`: SlurmExecutor.start of a placed "
        "2-node gang, each rank through the runner (project uid, cgroups, bubblewrap); `aicc_unisolated`: the "
        "same batch script with ranks run bare; `plain`: `sbatch --wrap \"srun ...\"`.\n")
    print(json.dumps(summary, indent=2), f"ratio {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
