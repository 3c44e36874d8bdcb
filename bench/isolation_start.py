"""What isolating every job costs at start: admission -> the job's first instruction, bare vs isolated.

    sudo .venv/bin/python bench/isolation_start.py --jobs 40 --burst 200

Side by side in one run, through the real local executor (zygote, shepherd, state files):
- **bare**: today's path before the runner, a plain process group as the server's user (the runner
  bypassed; kept here only, for this comparison: the executor itself never starts a job unisolated);
- **isolated**: the runner's full path on the host environment (cgroups created and joined, identity
  dropped, seccomp program built, bubblewrap with its own mount/PID/IPC/UTS/user namespaces).
Latency is from the ``start()`` call to the timestamp the job writes as its first act (``$EPOCHREALTIME``
in bash, the same for both), one job at a time. The burst starts N jobs as fast as ``start()`` returns and
waits for all of them: every job must run and succeed (none lost); the rate is jobs / (last first
instruction - first start() call). Writes bench/results/isolation_start.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine

from aicc.executors.base import Launch, Placement
from aicc.executors.local import LocalExecutor
from aicc.runner.spec import RunSpec

RESULTS = Path(__file__).resolve().parent / "results"
FIRST = ["bash", "-c", 'echo "$EPOCHREALTIME" > "$HOME/t0"']


class BareExecutor(LocalExecutor):
    """Today's path before isolation: the runner bypassed (benchmark only)."""

    def run_spec(self, launch: Launch, env: dict[str, str], rootfs: Path | None = None) -> RunSpec | None:
        return None


def launch(jobs: Path, job_id: int) -> Launch:
    workdir = jobs / str(job_id)
    workdir.mkdir(parents=True, exist_ok=True)
    return Launch(job_id=job_id, attempt=0, name=f"b-{job_id}", argv=FIRST, workdir=workdir, env={},
                  flavor="cpu", device_env=None, placements=[Placement("n1")], cpus=1, memory_mb=256,
                  time_limit_s=120, unix_uid=200_099)


def wait_all(ex: LocalExecutor, ids: list[tuple[int, str]], timeout: float = 300) -> dict[str, int]:
    pending = dict(ids)
    phases: dict[str, int] = {}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for st in ex.reconcile([(j, 0, e) for j, e in pending.items()]):
            if st.phase.finished:
                phases[st.phase.value] = phases.get(st.phase.value, 0) + 1
                pending.pop(st.job_id)
        time.sleep(0.02)
    phases["never finished"] = len(pending)
    return phases


def first_instruction(jobs: Path, job_id: int) -> float | None:
    try:
        return float((jobs / str(job_id) / "t0").read_text())
    except (OSError, ValueError):
        return None


def latencies(ex: LocalExecutor, jobs: Path, n: int, base: int) -> list[float]:
    out = []
    for i in range(n):
        job_id = base + i
        t = time.time()
        ext = ex.start(launch(jobs, job_id))
        wait_all(ex, [(job_id, ext)])
        t0 = first_instruction(jobs, job_id)
        if t0 is not None:
            out.append((t0 - t) * 1000)
    return out


def burst(ex: LocalExecutor, jobs: Path, n: int, base: int) -> dict[str, object]:
    t = time.time()
    ids = [(base + i, ex.start(launch(jobs, base + i))) for i in range(n)]
    submitted = time.time() - t
    phases = wait_all(ex, ids)
    firsts = [x for x in (first_instruction(jobs, j) for j, _ in ids) if x is not None]
    span = (max(firsts) - t) if firsts else float("nan")
    return {"jobs": n, "ran": len(firsts), "phases": phases, "start_calls_s": round(submitted, 3),
            "all_started_s": round(span, 3), "jobs_per_s": round(len(firsts) / span, 1) if firsts else 0}


def summary(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 1),
            "p95_ms": round(ms[max(0, int(len(ms) * 0.95) - 1)], 1), "min_ms": round(ms[0], 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=40, help="sequential starts per path")
    ap.add_argument("--burst", type=int, default=200)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="aicc-bench-iso-"))
    root.chmod(0o711)
    results: dict[str, object] = {"machine": machine(), "load_avg_at_start": list(__import__("os").getloadavg())}
    for name, cls in (("bare", BareExecutor), ("isolated", LocalExecutor)):
        jobs = root / name
        ex = cls(jobs)
        if ex.problems and name == "isolated":
            print("cannot isolate here:", ex.problems, file=sys.stderr)
            return 1
        latencies(ex, jobs, 3, 900_000)  # warm the zygote and the page cache
        results[name] = {"latency": summary(latencies(ex, jobs, args.jobs, 1)),
                         "burst": burst(ex, jobs, args.burst, 10_000)}
        ex.close()
        print(name, json.dumps(results[name]))
    bare, iso = results["bare"], results["isolated"]
    assert isinstance(bare, dict) and isinstance(iso, dict)
    added = iso["latency"]["median_ms"] - bare["latency"]["median_ms"]
    results["isolation_adds_median_ms"] = round(added, 1)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "isolation_start.json").write_text(json.dumps(results, indent=2) + "\n")
    m = results["machine"]
    assert isinstance(m, dict)
    lines = [
        "# Isolation at start: bare process vs the runner (bubblewrap + cgroups + uid drop + seccomp)", "",
        f"Machine: {m['cpus']} cores, {m['cpu_model']}, {m['memory_gib']} GiB; load average at start "
        f"{results['load_avg_at_start'][0]:.1f} (the machine is shared with other sessions).", "",
        "| path | median ms | p95 ms | min ms | burst of N: ran / lost | burst start rate (jobs/s) |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("bare", "isolated"):
        r = results[name]
        assert isinstance(r, dict)
        lat, b = r["latency"], r["burst"]
        lost = b["jobs"] - b["ran"]
        lines.append(f"| {name} | {lat['median_ms']} | {lat['p95_ms']} | {lat['min_ms']} | "
                     f"{b['ran']}/{b['jobs']} ran, {lost} lost ({b['phases']}) | {b['jobs_per_s']} |")
    lines += ["", f"Isolation adds **{added:.1f} ms** at the median (goal: at most 50 ms).", "",
              "Latency: `start()` call to the job's first instruction (a timestamp the job writes), one job at a "
              "time, through the zygote and shepherd. Burst: N `start()` calls back to back, then every job "
              "waited for; rate = jobs that ran / (last first instruction - first call).", ""]
    (RESULTS / "isolation_start.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
