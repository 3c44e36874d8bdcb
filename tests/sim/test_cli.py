"""`aicc sim run` and `aicc sim plan` through Typer's runner, on the committed sample."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from aicc.cli.sim import app

SAMPLE = Path(__file__).parent.parent / "data" / "philly-gavel"
runner = CliRunner()


def test_run_compares_policies_and_writes_a_self_contained_report(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    res = runner.invoke(app, ["run", "--trace", str(SAMPLE), "--policy", "fifo", "--policy", "hetero",
                              "--out", str(out), "--decision-log", "--json"])
    assert res.exit_code == 0, res.output
    printed = json.loads(res.stdout)
    assert set(printed["policies"]) == {"fifo", "hetero"}
    report = json.loads((out / "report.json").read_text())
    jobs = report["meta"]["jobs"]
    for p in ("fifo", "hetero"):
        s = report["policies"][p]
        assert s["finished"] == jobs and s["jct_s"]["mean"] > 0 and 0 < s["fairness"][
            "jain_share_over_entitlement"] <= 1
        assert set(s["utilization"]) == {"k80", "p100", "v100"}
    html = (out / "report.html").read_text()
    assert html.count("<svg") >= 8 and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert (out / "decisions-fifo.jsonl").read_text().count("\n") > 0


def test_run_prints_a_table_by_default(tmp_path: Path) -> None:
    res = runner.invoke(app, ["run", "--synthetic", "200", "--seed", "3", "--out", str(tmp_path)],
                           env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "aicc" in res.stdout and "mean JCT" in res.stdout


def test_malformed_csv_is_a_clear_error_unless_lenient(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("submit,project,accelerators,flavors,duration\n0,a,1,k80,60\n1,a,one,k80,60\n")
    res = runner.invoke(app, ["run", "--trace", str(csv), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "t.csv:3" in res.output
    res = runner.invoke(app, ["run", "--trace", str(csv), "--lenient", "--out", str(tmp_path / "o"), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["meta"]["skipped_lines"] == 1


def test_unknown_policy_is_refused(tmp_path: Path) -> None:
    res = runner.invoke(app, ["run", "--trace", str(SAMPLE), "--policy", "lottery", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "lottery" in res.output


def test_plan_reports_the_smallest_size_and_a_chart(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("submit,project,accelerators,flavors,duration\n" + "".join("0,a,1,v100,100\n" for _ in range(6)))
    res = runner.invoke(app, ["plan", "--trace", str(csv), "--target", "max_wait<=0", "--flavor", "v100",
                              "--min", "4", "--max", "64", "--policy", "easy", "--out", str(tmp_path / "p"),
                              "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["best"] == 8  # the Gavel cluster's nodes hold 4 GPUs: 6 jobs need two nodes
    assert "<svg" in (tmp_path / "p" / "plan.html").read_text()


def test_run_on_a_center_file_charges_budgets(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    rows = [f"{i * 60},{p},{g},h100|a100,h100:3600|a100:5400" for i, (p, g) in
            enumerate([("climate", 8), ("genomics", 4), ("climate", 4), ("other", 2)] * 5)]
    csv.write_text("submit,project,accelerators,flavors,duration\n" + "\n".join(rows) + "\n")
    center = Path(__file__).parent.parent / "data" / "center-small.toml"
    res = runner.invoke(app, ["run", "--trace", str(csv), "--center", str(center), "--policy", "aicc",
                              "--out", str(tmp_path / "o"), "--json"])
    assert res.exit_code == 0, res.output
    projects = json.loads((tmp_path / "o" / "report.json").read_text())["policies"]["aicc"]["fairness"]["projects"]
    assert projects["climate"]["budget_su"] == 100.0
    assert 0 < projects["climate"]["su"] <= 100.0 + 1e-6
    assert projects["other"]["budget_su"] is None and projects["other"]["su"] > 0
    assert "Budgets" in (tmp_path / "o" / "report.html").read_text()


def test_preemption_cost_options_reach_the_report_and_a_zero_checkpoint_is_refused(tmp_path: Path) -> None:
    res = runner.invoke(app, ["run", "--trace", str(SAMPLE), "--policy", "aicc", "--preempt-grace", "30",
                              "--checkpoint", "600", "--out", str(tmp_path / "o"), "--json"])
    assert res.exit_code == 0, res.output
    pc = json.loads((tmp_path / "o" / "report.json").read_text())["policies"]["aicc"]["preemption"]
    assert (pc["grace_s"], pc["checkpoint_s"], pc["lossless"]) == (30.0, 600.0, False)
    assert pc["lost_unit_h"] >= 0
    res = runner.invoke(app, ["run", "--trace", str(SAMPLE), "--checkpoint", "0", "--out", str(tmp_path / "p")])
    assert res.exit_code == 2 and "--checkpoint" in res.output and "positive number of seconds" in res.output
