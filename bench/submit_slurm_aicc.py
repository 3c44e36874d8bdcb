"""AICC in front of Slurm versus plain sbatch, on the local cluster of scripts/slurm-up.

    eval "$(scripts/slurm-up)" && .venv/bin/python bench/submit_slurm_aicc.py --jobs 200

Both sides submit N one-core jobs one after another, as a user's shell loop would:
plain ``sbatch --wrap true`` versus ``POST /api/v1/jobs`` to an ``aicc server`` whose
site runs on that Slurm cluster. Reported: the submission rate a user sees, and the
time until every job has reached Slurm (AICC admits under quota and fair share
first, then calls sbatch, several at once). Writes bench/results/submit_slurm_aicc.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine
from submit_http import AICC, free_port

INVENTORY = """[site]
name = "bench-slurm"
executor = "slurm"
[[flavors]]
name = "cpu"
vendor = "cpu"
su_rate = 0.02
[[flavors]]
name = "h100"
vendor = "nvidia"
su_rate = 2.0
[[flavors]]
name = "a100"
vendor = "nvidia"
su_rate = 1.0
[[nodes]]
name = "node3"
flavor = "cpu"
accelerators = 0
cpus = 8
memory_gb = 15
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    slurm_dir = os.environ.get("AICC_SLURM_DIR", "/tmp/aicc-slurm")
    env = {**os.environ, "SLURM_CONF": f"{slurm_dir}/etc/slurm.conf"}
    n = args.jobs

    def sbatch_loop() -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            subprocess.run(["sbatch", "--parsable", "--partition=cpu", "--job-name=bench-plain",
                            "--output=/dev/null", "--wrap", "true"], env=env, check=True, capture_output=True)
        return time.perf_counter() - t0

    with tempfile.TemporaryDirectory(prefix="aicc-bench-") as tmp:
        home = Path(tmp)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        aenv = {**env, "AICC_HOME": str(home), "AICC_CONFIG_DIR": str(home / "cfg"), "AICC_SLURM_DIR": slurm_dir,
                "AICC_JOB_PREFIX": f"bench{port}", "AICC_TICK_SECONDS": "0.2"}
        subprocess.run([AICC, "db", "upgrade"], env=aenv, check=True, capture_output=True)
        out = subprocess.run([AICC, "db", "bootstrap"], env=aenv, check=True, capture_output=True, text=True).stdout
        token = out.strip().splitlines()[-1]
        h = {"Authorization": f"Bearer {token}"}
        server = subprocess.Popen([AICC, "server", "--port", str(port)], env=aenv, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            for _ in range(300):
                try:
                    if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            c = httpx.Client(base_url=url + "/api/v1", headers=h, timeout=60)
            c.post("/inventory", json={"toml": INVENTORY, "source": "bench.toml"}).raise_for_status()
            org = c.post("/organizations", json={"name": "bench", "display_name": "B", "kind": "public"}).json()
            proj = c.post("/projects", json={"organization_id": org["id"], "name": "bench", "title": "B"}).json()
            c.post("/allocations", json={"project_id": proj["id"], "name": "b", "budget_su": 1e9,
                                         "starts_at": "2020-01-01T00:00:00Z", "ends_at": "2100-01-01T00:00:00Z",
                                         "quotas": {"cpu": {"nominal": 8}}}).raise_for_status()
            body = {"project_id": proj["id"], "command": ["true"], "flavors": ["cpu"], "time_limit_s": 60}
            runs = []
            for _ in range(args.repeat):  # alternate, so load on the shared cores hits both paths alike
                sbatch_s = sbatch_loop()
                t0 = time.perf_counter()
                ids = [c.post("/jobs", json=body).json()["id"] for _ in range(n)]
                api_s = time.perf_counter() - t0
                while True:
                    jobs = c.get("/jobs", params={"project_id": proj["id"], "limit": 500,
                                                  "state": ["pending", "admitted"]}).json()["items"]
                    if not [j for j in jobs if j["id"] in ids]:
                        break
                    time.sleep(0.05)
                runs.append((sbatch_s, api_s, time.perf_counter() - t0))
        finally:
            server.terminate()
            server.wait()
            # leave the shared test cluster as we found it: thousands of queued `true` jobs would hold up
            # whatever runs on it next (the Slurm tests, when CI reuses a cluster left up by hand)
            subprocess.run(["scancel", "--name=bench-plain"], env=env, check=False, capture_output=True)
            subprocess.run(["sh", "-c", f"squeue -h -o '%i %j' | awk '$2 ~ /^bench{port}-/ {{print $1}}' | "
                                        "xargs -r scancel"], env=env, check=False, capture_output=True)

    ratios = sorted(sb / api for sb, api, _ in runs)
    sbatch_s, api_s, all_in_slurm_s = sorted(runs, key=lambda r: r[0] / r[1])[len(runs) // 2]  # the median run
    result = {
        "benchmark": "submit_slurm_aicc", "jobs": n, "repeat": len(runs),
        "sbatch_loop": {"seconds": round(sbatch_s, 3), "jobs_per_s": round(n / sbatch_s, 1)},
        "aicc_api_loop": {"seconds": round(api_s, 3), "jobs_per_s": round(n / api_s, 1)},
        "aicc_until_every_job_ran_in_slurm_s": round(all_in_slurm_s, 3),
        "ratio_submit_rate_aicc_over_sbatch": round(sbatch_s / api_s, 2),
        "ratios_all_runs": [round(r, 2) for r in ratios],
        "machine": machine(),
    }
    out_dir = Path(__file__).resolve().parent / "results"
    (out_dir / "submit_slurm_aicc.json").write_text(json.dumps(result, indent=2) + "\n")
    m = result["machine"]
    md = (f"# AICC in front of Slurm vs plain sbatch ({n} one-core jobs, one after another; median run)\n\n"
          f"Machine: {m['cpus']} cores, {m['cpu_model']}; Slurm 22.05 from Debian, cluster of scripts/slurm-up.\n\n"  # type: ignore[index]
          "| path | submission wall time | rate a user sees |\n|---|---|---|\n"
          f"| `sbatch --wrap true` loop | {sbatch_s:.2f} s | {n / sbatch_s:.1f} jobs/s |\n"
          f"| `POST /api/v1/jobs` loop (AICC) | {api_s:.2f} s | {n / api_s:.1f} jobs/s |\n\n"
          f"Ratio (AICC rate / sbatch rate), median of {len(runs)} alternating runs: **{sbatch_s / api_s:.2f}** "
          f"(all runs: {', '.join(f'{r:.2f}' for r in ratios)}). Every AICC job had been handed to Slurm "
          f"(admitted under its quota of 8 cores, started with sbatch, 8 at a time) "
          f"{all_in_slurm_s:.2f} s after the first submit; the 8-core quota, not AICC, sets that pace.\n")
    (out_dir / "submit_slurm_aicc.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
