"""The simulator's shipped sample shows what a policy changes, and a run that leaves jobs unfinished says why."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from aicc.cli.sim import app

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "philly-sample"
CENTER = ROOT / "examples" / "sim-center.toml"
runner = CliRunner()


def test_the_shipped_sample_makes_policies_differ(tmp_path: Path) -> None:
    res = runner.invoke(app, ["run", "--trace", str(SAMPLE), "--center", str(CENTER), "--policy", "fifo",
                              "--policy", "easy", "--policy", "aicc", "--out", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)["policies"]
    waits = {p: round(r["wait_s"]["mean"]) for p, r in rows.items()}
    assert min(waits.values()) > 0 and len(set(waits.values())) == 3, waits  # jobs wait, and not equally
    assert waits["easy"] < waits["fifo"]  # backfill helps
    assert (SAMPLE / "LICENSE").is_file() and "stanford-futuredata/gavel" in (SAMPLE / "SOURCE.md").read_text()


def test_plan_sweeps_to_an_answer_inside_its_range_in_readable_units(tmp_path: Path) -> None:
    res = runner.invoke(app, ["plan", "--trace", str(SAMPLE), "--center", str(CENTER), "--target", "mean_wait<=12h",
                              "--flavor", "v100", "--min", "32", "--max", "512"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    best = int(res.stdout.rsplit(":", 1)[1])
    assert 32 < best < 512  # neither end: the sample is big enough to need some, small enough to be met
    assert (" h " in res.stdout or " d " in res.stdout) and "e+" not in res.stdout


def test_a_run_that_finishes_fewer_jobs_than_submitted_says_why(tmp_path: Path) -> None:
    center = ROOT / "src" / "aicc" / "demo" / "center.toml"
    res = runner.invoke(app, ["run", "--synthetic", "300", "--seed", "7", "--center", str(center),
                              "--out", str(tmp_path)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "report.json").read_text())["policies"]["aicc"]
    assert report["unschedulable"] > 0  # the generator asks for gangs bigger than this small center
    line = next(x for x in res.stdout.splitlines() if x.startswith("aicc: finished"))
    assert f"finished {report['finished']:,} of 300 jobs" in line
    assert f"{report['unschedulable']:,} could never start" in line
