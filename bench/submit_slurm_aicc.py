"""AICC in front of Slurm versus plain sbatch, side by side on one real Slurm cluster.

    .venv/bin/python bench/submit_slurm_aicc.py --jobs 200 --repeat 5

Starts its own cluster with ``scripts/slurm-up`` (own directory and ports, a wide
CPU node so that all N jobs fit at once: AICC never admits more than Slurm can
run, and a queue AICC may not fill would measure the quota, not AICC) and
purges it afterwards. Both sides submit the same N like-shaped jobs (one CPU,
64 MB, one-minute limit, ``true``) one after another, as a user's shell loop
would: ``sbatch`` versus ``POST /api/v1/jobs`` to an ``aicc server`` whose site
runs on that cluster. The two alternate, each on an idle cluster, and the
median of the runs is reported:

- the submission rate the user sees (the loop's wall time);
- the time from the first submit until Slurm had accepted every job (slurmctld's
  log, to the millisecond, for the ids the completion log gives each name);
- end to end, the time from the first submit until every job has run in Slurm,
  proven by its line in Slurm's completion log (the job names say which).

Writes bench/results/submit_slurm_aicc.{json,md}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine
from submit_http import AICC, free_port

REPO = Path(__file__).resolve().parents[1]
CPUS = 256
INVENTORY = f"""[site]
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
cpus = {CPUS}
memory_gb = 64
"""
NAME = re.compile(r"\bName=(\S+)")
SUBMITTED = re.compile(r"^\[([0-9T:.-]+)\] _slurm_rpc_submit_batch_job: JobId=(\d+) ", re.M)


class Cluster:
    """The benchmark's own cluster: its own directory and ports, so a test cluster is never disturbed."""

    def __init__(self, directory: Path, port: int) -> None:
        self.dir = directory
        self.env = {**os.environ, "AICC_SLURM_DIR": str(directory), "AICC_SLURM_PORT": str(port),
                    "AICC_SLURM_CPUS": str(CPUS), "AICC_SLURM_MEMORY_MB": str(64 * 1024),
                    "SLURM_CONF": str(directory / "etc" / "slurm.conf")}

    def up(self) -> None:
        subprocess.run([str(REPO / "scripts" / "slurm-up")], env=self.env, check=True, stdout=subprocess.DEVNULL)

    def down(self) -> None:
        subprocess.run([str(REPO / "scripts" / "slurm-down"), "--purge"], env=self.env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def completed(self, prefix: str) -> int:
        """Jobs whose names start with ``prefix`` that Slurm has logged as ended."""
        try:
            text = (self.dir / "jobcomp.log").read_text()
        except FileNotFoundError:
            return 0
        return sum(1 for m in NAME.finditer(text) if m.group(1).startswith(prefix))

    def until_completed(self, prefix: str, n: int, t0: float, timeout: float = 300) -> float:
        while self.completed(prefix) < n:
            if time.perf_counter() - t0 > timeout:
                raise SystemExit(f"only {self.completed(prefix)} of {n} {prefix}* jobs ran in {timeout} s")
            time.sleep(0.01)
        return time.perf_counter() - t0

    def accepted_by(self, prefix: str) -> float:
        """Wall-clock time at which slurmctld had accepted the last submission behind jobs named ``prefix``*
        (an array counts once, by its own id)."""
        ids = set()
        for line in (self.dir / "jobcomp.log").read_text().splitlines():
            match = NAME.search(line)
            if match and match.group(1).startswith(prefix):
                fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
                ids.add(int(fields.get("ArrayJobId") or fields["JobId"]))
        log = (self.dir / "log" / "slurmctld.log").read_text()
        times = [dt.datetime.fromisoformat(t).timestamp() for t, i in SUBMITTED.findall(log) if int(i) in ids]
        if len(times) < len(ids):
            raise SystemExit(f"slurmctld's log lacks submissions of {prefix}*")
        return max(times)

    def until_idle(self) -> None:
        """Nothing queued or running: every loop starts on the same cluster."""
        while subprocess.run(["squeue", "-h", "-t", "PD,R,CG,CF"], env=self.env, capture_output=True,
                             text=True, check=True).stdout.strip():
            time.sleep(0.1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--port", type=int, default=17850, help="first port of the benchmark's own Slurm cluster")
    args = ap.parse_args()
    n = args.jobs
    if not 0 < n <= CPUS:
        raise SystemExit(f"--jobs must be 1..{CPUS} (all jobs fit on the cluster at once)")
    with tempfile.TemporaryDirectory(prefix="aicc-bench-") as tmp:
        home = Path(tmp)
        cluster = Cluster(Path(f"/tmp/aicc-slurm-bench-{args.port}"), args.port)
        cluster.down()
        cluster.up()
        out_dir = home / "plain"
        out_dir.mkdir()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        aenv = {**cluster.env, "AICC_HOME": str(home), "AICC_CONFIG_DIR": str(home / "cfg"),
                "AICC_JOB_PREFIX": "bench-aicc"}  # the default 2 s tick, as a site runs it
        subprocess.run([AICC, "db", "upgrade"], env=aenv, check=True, capture_output=True)
        out = subprocess.run([AICC, "db", "bootstrap"], env=aenv, check=True, capture_output=True, text=True).stdout
        token = out.strip().splitlines()[-1]
        server = subprocess.Popen([AICC, "server", "--port", str(port)], env=aenv, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        runs: list[dict[str, float]] = []
        try:
            for _ in range(300):
                try:
                    if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            c = httpx.Client(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=60)
            c.post("/inventory", json={"toml": INVENTORY, "source": "bench.toml"}).raise_for_status()
            org = c.post("/organizations", json={"name": "bench", "display_name": "B", "kind": "public"}).json()
            proj = c.post("/projects", json={"organization_id": org["id"], "name": "bench", "title": "B"}).json()
            c.post("/allocations", json={"project_id": proj["id"], "name": "b", "budget_su": 1e9,
                                         "starts_at": "2020-01-01T00:00:00Z", "ends_at": "2100-01-01T00:00:00Z",
                                         "quotas": {"cpu": {"nominal": CPUS}}}).raise_for_status()
            body = {"project_id": proj["id"], "command": ["true"], "flavors": ["cpu"], "cpus": 1, "memory_mb": 64,
                    "time_limit_s": 60}
            for i in range(args.repeat):  # alternate, so load on the shared cores hits both paths alike
                cluster.until_idle()
                prefix = f"bench-plain-{i}-"
                wall0, t0 = time.time(), time.perf_counter()
                for k in range(n):
                    subprocess.run(["sbatch", "--parsable", f"--job-name={prefix}{k}", "--partition=cpu",
                                    "--ntasks-per-node=1", "--cpus-per-task=1", "--mem=64M", "--time=1",
                                    f"--chdir={out_dir}", f"--output={out_dir}/{k}.out", "--no-requeue",
                                    "--wrap", "true"], env=cluster.env, check=True, capture_output=True)
                plain_submit = time.perf_counter() - t0
                plain_ran = cluster.until_completed(prefix, n, t0)
                plain_in = cluster.accepted_by(prefix) - wall0

                cluster.until_idle()
                before = cluster.completed("bench-aicc-")
                wall0, t0 = time.time(), time.perf_counter()
                for _ in range(n):
                    c.post("/jobs", json=body).raise_for_status()
                aicc_submit = time.perf_counter() - t0
                aicc_ran = cluster.until_completed("bench-aicc-", before + n, t0)
                aicc_in = cluster.accepted_by("bench-aicc-") - wall0  # earlier runs' jobs were accepted earlier
                # For scale: the same N as one array, the least a submitter can ask of Slurm.
                cluster.until_idle()
                t0 = time.perf_counter()
                subprocess.run(["sbatch", "--parsable", f"--job-name=bench-array-{i}", f"--array=0-{n - 1}",
                                "--partition=cpu", "--ntasks-per-node=1", "--cpus-per-task=1", "--mem=64M",
                                "--time=1", f"--chdir={out_dir}", f"--output={out_dir}/a%a.out", "--no-requeue",
                                "--wrap", "true"], env=cluster.env, check=True, capture_output=True)
                array_ran = cluster.until_completed(f"bench-array-{i}", n, t0)
                runs.append({"plain_submit_s": plain_submit, "plain_in_slurm_s": plain_in, "plain_ran_s": plain_ran,
                             "aicc_submit_s": aicc_submit, "aicc_in_slurm_s": aicc_in, "aicc_ran_s": aicc_ran,
                             "array_ran_s": array_ran})
                print(f"run {i}: " + ", ".join(f"{k} {v:.2f}" for k, v in runs[-1].items()), file=sys.stderr)
            jobs = c.get("/jobs", params={"project_id": proj["id"], "limit": 1, "state": "succeeded"}).json()
            if not jobs["items"]:
                raise SystemExit("AICC recorded no succeeded job")
        finally:
            server.terminate()
            server.wait()
            cluster.down()

    submit_ratios = [r["plain_submit_s"] / r["aicc_submit_s"] for r in runs]
    in_ratios = [r["plain_in_slurm_s"] / r["aicc_in_slurm_s"] for r in runs]
    ran_ratios = [r["plain_ran_s"] / r["aicc_ran_s"] for r in runs]

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    result = {
        "benchmark": "submit_slurm_aicc", "jobs": n, "repeat": len(runs),
        "sbatch_loop": {"submit_s": round(med("plain_submit_s"), 3), "jobs_per_s": round(n / med("plain_submit_s"), 1),
                        "until_every_job_in_slurm_s": round(med("plain_in_slurm_s"), 3),
                        "until_every_job_ran_s": round(med("plain_ran_s"), 3)},
        "aicc_api_loop": {"submit_s": round(med("aicc_submit_s"), 3), "jobs_per_s": round(n / med("aicc_submit_s"), 1),
                          "until_every_job_in_slurm_s": round(med("aicc_in_slurm_s"), 3),
                          "until_every_job_ran_s": round(med("aicc_ran_s"), 3)},
        "one_sbatch_array": {"until_every_task_ran_s": round(med("array_ran_s"), 3)},
        "ratio_submit_rate_aicc_over_sbatch": round(statistics.median(submit_ratios), 2),
        "ratio_into_slurm_aicc_over_sbatch": round(statistics.median(in_ratios), 2),
        "ratio_end_to_end_aicc_over_sbatch": round(statistics.median(ran_ratios), 2),
        "runs": [{k: round(v, 3) for k, v in r.items()} for r in runs],
        "machine": machine(),
    }
    results = Path(__file__).resolve().parent / "results"
    (results / "submit_slurm_aicc.json").write_text(json.dumps(result, indent=2) + "\n")
    m = result["machine"]
    sb, ai = result["sbatch_loop"], result["aicc_api_loop"]

    def row(label: str, r: dict[str, float]) -> str:
        return (f"| {label} | {r['submit_s']:.2f} s | {r['jobs_per_s']:.0f} jobs/s | "
                f"{r['until_every_job_in_slurm_s']:.2f} s | {r['until_every_job_ran_s']:.2f} s |\n")

    def spread(values: list[float]) -> str:
        return ", ".join(f"{v:.2f}" for v in sorted(values))

    md = (f"# AICC in front of Slurm vs plain sbatch ({n} like one-CPU jobs, one after another)\n\n"
          f"Machine: {m['cpus']} cores, {m['cpu_model']}; Slurm 22.05 from Debian, the cluster of "  # type: ignore[index]
          f"scripts/slurm-up with a {CPUS}-CPU node (all jobs fit at once). Medians of {len(runs)} alternating "
          "runs, each on an idle cluster; times from the first submit.\n\n"
          "| path | submission loop | rate the user sees | until Slurm had accepted every job "
          "| until every job ran in Slurm |\n|---|---|---|---|---|\n"
          + row("`sbatch` loop", sb) + row("`POST /api/v1/jobs` loop (AICC)", ai)  # type: ignore[arg-type]
          + f"| one `sbatch --array=0-{n - 1}` (for scale) | | | | {med('array_ran_s'):.2f} s |\n\n"
          "Ratios AICC / sbatch (higher is better for AICC), median over runs:\n\n"
          f"- submission rate the user sees: **{result['ratio_submit_rate_aicc_over_sbatch']:.2f}** "
          f"(runs {spread(submit_ratios)})\n"
          f"- into Slurm: **{result['ratio_into_slurm_aicc_over_sbatch']:.2f}** (runs {spread(in_ratios)})\n"
          f"- until every job ran: **{result['ratio_end_to_end_aicc_over_sbatch']:.2f}** "
          f"(runs {spread(ran_ratios)})\n\n"
          "AICC hands like-shaped jobs admitted in one cycle to Slurm as one array. Until every job has run, "
          "both paths are bound by Slurm running them on this machine (one array submission takes as long), "
          "and Slurm's own steps of about a second make single runs scatter.\n")
    (results / "submit_slurm_aicc.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
