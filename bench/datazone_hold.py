"""Benchmark: output-hold time of a sensitive job, before and after the data-zone hardening (issue 16).

Holding is what the controller does when a job on sensitive data ends: walk its
``out/``, read and check every file, checksum it, store the request and its
files, audit. The hardening added server-side checks (decoded variants, text
tables, record fingerprints, small cells), ``run.json`` and a coarser audit.
Goal: at most 1.2x the old time for a typical request (a few CSV tables, a text
summary and a training log).

Both versions run here in one invocation, each in its own process on the same
interpreter: the old one from ``git archive <base>`` in a temporary directory,
the new one from this checkout. Each process builds the demo center on SQLite
with a 20,000-row sensitive cohort, then holds N finished jobs' outputs one by
one (the live path: ``outputs.hold`` in a write transaction, committed) and
times, as an inner figure, the pure checks alone. Writes
bench/results/datazone_hold.{json,md}.

    .venv/bin/python bench/datazone_hold.py [--base 0338e43] [--jobs 30]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BASE = "0338e43"  # the commit before the hardening
COHORT_ROWS = 20_000
GOAL = 1.2


def _outputs(out: Path, log_lines: int, rnd: random.Random) -> None:
    """What a typical analysis leaves: count tables, a table of means, metrics, a summary, a training log."""
    out.mkdir(parents=True)
    bands, sexes, findings, regions = ["20-39", "40-59", "60-79", "80+"], "FM", ["normal", "pneumonia",
                                                                                 "effusion", "nodule"], ["광주", "전남"]
    (out / "age_by_sex.csv").write_text("age_band,F,M\n" + "".join(
        f"{b},{rnd.randint(900, 1600)},{rnd.randint(900, 1600)}\n" for b in bands))
    (out / "finding_by_region.csv").write_text("finding," + ",".join(regions) + "\n" + "".join(
        f"{f},{rnd.randint(1000, 3000)},{rnd.randint(1000, 3000)}\n" for f in findings))
    (out / "los_by_finding.csv").write_text("finding,mean_los,sd_los\n" + "".join(
        f"{f},{rnd.uniform(3, 12):.2f},{rnd.uniform(1, 4):.2f}\n" for f in findings))
    (out / "metrics.csv").write_text("epoch,loss,auroc\n" + "".join(
        f"{e},{1 / (e + 1):.4f},{0.7 + e / 200:.4f}\n" for e in range(50)))
    (out / "summary.txt").write_text("AUROC 0.93 on the held-out fifth; sensitivity 0.88 at 0.9 specificity.\n")
    with open(out.parent / "stdout.log", "w") as f:
        for i in range(log_lines):
            f.write(f"epoch {i // 40} step {i} loss {rnd.uniform(0.1, 1):.4f} lr 3e-4 sexes {sexes}\n")
    (out.parent / "stderr.log").write_text("warning: torch not found, using numpy\n")


def worker(jobs: int, log_lines: int, seed: int) -> dict[str, Any]:
    """Runs in the version under test (its ``aicc`` is first on sys.path)."""
    import datetime as dt

    from sqlalchemy import select

    import aicc
    from aicc.config import Settings
    from aicc.core.datazone import checks
    from aicc.demo import load_demo, write_demo_cohort
    from aicc.services.datazone import datasets, outputs
    from aicc.store.db import Database
    from aicc.store.migrate import upgrade
    from aicc.store.models import DatasetRow, JobRow, ProjectRow, UserRow, utcnow

    rnd = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/aicc.db"
        db = Database(url)
        upgrade(db.engine)
        settings = Settings(home=Path(tmp) / "home", database_url=url, controller=False)
        load_demo(db, settings)
        with db.write() as s:  # the demo's cohort, grown to a realistic size and published again
            ds = s.execute(select(DatasetRow).where(DatasetRow.name == "cxr-cohort")).scalar_one()
            ds_id = ds.id
        write_demo_cohort(settings.datasets_root / "cxr-big", rows=COHORT_ROWS, seed=seed)
        from aicc.core.tenancy import OrgRole
        from aicc.services.principal import Principal

        with db.write() as s:
            ds = s.get(DatasetRow, ds_id)
            assert ds is not None
            erin = s.execute(select(UserRow).where(UserRow.username == "erin")).scalar_one()
            custodian = Principal(erin.id, erin.username, org_roles={ds.organization_id: OrgRole.DATA_CUSTODIAN})
            big = datasets.register(
                s, custodian, settings, organization_id=ds.organization_id, name="cxr-big", title="big",
                description="", classification="sensitive", path="cxr-big", columns=ds.columns,
                pseudonymize_ids=True, k_required=5, sdc={})
            t0 = time.perf_counter()
            datasets.publish(s, custodian, settings, big.id)
            publish_s = time.perf_counter() - t0
            big_id = big.id
            project = s.execute(select(ProjectRow).where(ProjectRow.name == "jnu-vision")).scalar_one()
            dana = s.execute(select(UserRow).where(UserRow.username == "dana")).scalar_one()
            ids = []
            now = utcnow()
            for i in range(jobs):
                job = JobRow(project_id=project.id, user_id=dana.id, name=f"analysis-{i}", state="succeeded",
                             reason="completed", command=["python", "analyse.py"], flavors=["cpu"], accelerators=0,
                             cpus=4, memory_mb=4096, time_limit_s=3600, priority=0, datasets=[big_id],
                             submitted_at=now, started_at=now - dt.timedelta(seconds=600), ended_at=now,
                             exit_code=0, attempt=1, flavor="cpu")
                s.add(job)
                s.flush()
                ids.append(job.id)
        for job_id in ids:
            _outputs(settings.jobs_dir / str(job_id) / "out", log_lines, rnd)
        hold_ms = []
        for job_id in ids:
            t0 = time.perf_counter()
            with db.write() as s:
                job = s.get(JobRow, job_id)
                assert job is not None and outputs.hold(s, settings, job) is not None
            hold_ms.append((time.perf_counter() - t0) * 1000)
        with db.read() as s:  # the inner figure: the pure checks over one request's files
            bigrow = s.get(DatasetRow, big_id)
            assert bigrow is not None
            knowledge = outputs._knowledge(settings, [bigrow])
        workdir = settings.jobs_dir / str(ids[0])
        facts = [checks.FileFacts(p, checks.FileKind.FILE, (workdir / p).stat().st_size, (workdir / p).read_bytes())
                 for p in ["out/" + n for n in sorted(os.listdir(workdir / "out"))] + ["stdout.log", "stderr.log"]]
        rules = outputs._rules(settings)
        check_ms = []
        for _ in range(jobs):
            t0 = time.perf_counter()
            checks.check_request(facts, rules, knowledge)
            check_ms.append((time.perf_counter() - t0) * 1000)
        statuses = checks.check_request(facts, rules, knowledge)
        db.dispose()
    return {"aicc": str(Path(aicc.__file__).parent), "hold_ms": hold_ms, "check_ms": check_ms,
            "publish_s": publish_s, "files": len(facts), "bytes": sum(f.size for f in facts),
            "statuses": {p: r.status.value for p, r in statuses.items()}}


def _run(src: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(src)
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", "--jobs", str(args.jobs),
                          "--log-lines", str(args.log_lines), "--seed", str(args.seed)],
                         env=env, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _summary(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"median": round(statistics.median(ms), 2), "mean": round(statistics.fmean(ms), 2),
            "p90": round(ms[int(0.9 * (len(ms) - 1))], 2), "min": round(ms[0], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default=BASE, help="git commit of the code before the change")
    ap.add_argument("--jobs", type=int, default=30)
    ap.add_argument("--log-lines", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.jobs, args.log_lines, args.seed)))
        return
    sys.path.insert(0, str(HERE))
    from _machine import machine

    with tempfile.TemporaryDirectory() as old:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.base, "src"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", old], input=archive, check=True)
        runs = {}
        for name, src in (("before", Path(old) / "src"), ("after", ROOT / "src"), ("before_again", Path(old) / "src"),
                          ("after_again", ROOT / "src")):
            runs[name] = _run(src, args)
    before = runs["before"]["hold_ms"] + runs["before_again"]["hold_ms"]
    after = runs["after"]["hold_ms"] + runs["after_again"]["hold_ms"]
    ratio = statistics.median(after) / statistics.median(before)
    result = {
        "benchmark": "datazone_hold", "machine": machine(), "base_commit": args.base,
        "jobs_per_run": args.jobs, "cohort_rows": COHORT_ROWS, "files_per_request": runs["after"]["files"],
        "bytes_per_request": runs["after"]["bytes"],
        "hold_ms": {"before": _summary(before), "after": _summary(after)},
        "checks_only_ms": {"before": _summary(runs["before"]["check_ms"] + runs["before_again"]["check_ms"]),
                           "after": _summary(runs["after"]["check_ms"] + runs["after_again"]["check_ms"])},
        "publish_s": {"before": round(runs["before"]["publish_s"], 3), "after": round(runs["after"]["publish_s"], 3)},
        "ratio_median": round(ratio, 3), "goal": GOAL, "met": ratio <= GOAL,
        "statuses": {"before": runs["before"]["statuses"], "after": runs["after"]["statuses"]},
        "code": {"before": runs["before"]["aicc"], "after": runs["after"]["aicc"]},
    }
    out = HERE / "results"
    (out / "datazone_hold.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    m = result["machine"]
    lines = [
        "# Output-hold time, before and after the data-zone hardening (issue 16)", "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, Python {m['python']}; "
        "SQLite; shared with other sessions, so absolute times wander: the two versions ran interleaved "
        "(before, after, before, after) in one invocation.", "",
        f"A request: {result['files_per_request']} files, {result['bytes_per_request']:,} bytes (four CSV tables, "
        f"a summary, a {args.log_lines}-line training log, stderr); cohort of {COHORT_ROWS:,} rows; "
        f"{2 * args.jobs} holds per version.", "",
        "| figure | before (ms, median / p90) | after (ms, median / p90) |", "|---|---|---|",
        "| hold (live path: walk, read, check, checksum, rows, audit, commit) | "
        f"{result['hold_ms']['before']['median']} / {result['hold_ms']['before']['p90']} | "
        f"{result['hold_ms']['after']['median']} / {result['hold_ms']['after']['p90']} |",
        f"| of which the pure checks | {result['checks_only_ms']['before']['median']} / "
        f"{result['checks_only_ms']['before']['p90']} | {result['checks_only_ms']['after']['median']} / "
        f"{result['checks_only_ms']['after']['p90']} |",
        f"| publication of the cohort (s, once) | {result['publish_s']['before']} | {result['publish_s']['after']} |",
        "", f"Ratio of medians (hold): **{result['ratio_median']}x** (goal <= {GOAL}x: "
        f"{'met' if result['met'] else 'not met'}).", "",
        "What the statuses say (same files): before, the tables without a job-written ACRO verdict were 'review'; "
        "after, the server checked the counts itself: " + ", ".join(
            f"{p}: {a}" for p, a in result["statuses"]["after"].items()) + ".",
    ]
    (out / "datazone_hold.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
