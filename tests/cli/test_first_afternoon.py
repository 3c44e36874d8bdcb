"""What a new center operator and its users hit in their first afternoon, with the real `aicc` against a live
server: scripts in their own words and interpreters, exit statuses, lists that say when they are cut, GPU
requests that stay on GPUs, whole sentences, and how to get a token again."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any, cast

from aicc.cli.lookup import relative_date
from tests.cli.conftest import AICC, Cli


def _submitted(out: str) -> int:
    m = re.search(r"Submitted job (\d+)", out)
    assert m, out
    return int(m.group(1))


def test_a_script_named_in_korean_runs_under_its_shebang_from_a_relative_path(cli: Cli, tmp_path: Path) -> None:
    bob = cli.tokens["bob"]
    (tmp_path / "실험").mkdir()
    script = "#!/usr/bin/env python3\nimport sys\nprint('python', sys.version_info[0])\n"
    (tmp_path / "실험" / "학습.py").write_text(script)
    env = {**cli.env, "AICC_TOKEN": bob}
    done = subprocess.run([AICC, "submit", "--flavor", "cpu", "실험/학습.py"], cwd=tmp_path, env=env, text=True,
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    job_id = _submitted(done.stdout)
    logs = cli.run("logs", str(job_id), "-f", token=bob)
    assert "python 3" in logs.stdout and logs.returncode == 0  # not sh: "import: not found"
    job = cast(dict[str, Any], cli.json("job", "show", str(job_id), token=bob))
    assert job["name"] == "학습.py" and job["state"] == "succeeded"


def test_following_a_failed_job_exits_non_zero_and_wait_says_how_it_ended(cli: Cli) -> None:
    bob = cli.tokens["bob"]
    job_id = _submitted(cli.run("submit", "--flavor", "cpu", "--", "sh", "-c", "echo partial; exit 3",
                                token=bob).stdout)
    follow = cli.run("logs", str(job_id), "-f", token=bob, check=False)
    assert follow.returncode == 1 and "partial" in follow.stdout
    assert f"job {job_id} failed, exit code 3" in follow.stderr
    waited = cli.run("job", "wait", str(job_id), token=bob, check=False)
    assert waited.returncode == 1 and f"job {job_id} failed" in waited.stdout


def test_jobs_all_lists_the_newest_first_and_says_when_the_list_is_cut(cli: Cli) -> None:
    bob = cli.tokens["bob"]
    ids = [_submitted(cli.run("submit", "--flavor", "cpu", "--", "true", token=bob).stdout) for _ in range(3)]
    page = cli.run("jobs", "--all", "--limit", "2", "--json", token=bob)
    assert [j["id"] for j in cast(list[dict[str, Any]], json.loads(page.stdout))] == ids[::-1][:2]
    table = cli.run("jobs", "--all", "--limit", "2", token=bob)
    m = re.search(r"the newest 2 shown; older jobs: aicc jobs --all --limit 2 --cursor (\S+)", table.stderr)
    assert m, table.stderr
    older = cli.run("jobs", "--all", "--limit", "2", "--cursor", m.group(1), "--json", token=bob)
    assert ids[0] in [j["id"] for j in cast(list[dict[str, Any]], json.loads(older.stdout))]


def test_a_gpu_request_without_a_flavor_never_lands_on_an_npu(cli: Cli) -> None:
    dana = cli.tokens["dana"]  # jnu-vision holds a100 and rbln-atom quota
    job_id = _submitted(cli.run("submit", "--gpus", "1", "-A", "jnu-vision", "--", "true", token=dana).stdout)
    job = cast(dict[str, Any], cli.json("job", "show", str(job_id), token=dana))
    assert "rbln-atom" not in job["flavors"] and "a100" in job["flavors"]
    npu = _submitted(cli.run("submit", "--gpus", "1", "-A", "jnu-vision", "--flavor", "any", "--", "true",
                             token=dana).stdout)
    assert "rbln-atom" in cast(dict[str, Any], cli.json("job", "show", str(npu), token=dana))["flavors"]
    upper = cli.run("submit", "--gpus", "1", "--flavor", "H100", "-A", "haneul-llm", "--", "true",
                    token=cli.tokens["bob"])
    assert upper.returncode == 0 and "Submitted job" in upper.stdout


def test_usage_says_never_at_this_rate_in_full(cli: Cli) -> None:
    rows = cast(list[dict[str, Any]], cli.json("usage"))  # the admin sees every allocation
    idle = [r["project"] for r in rows if r["projected_exhaustion"] is None]
    assert idle, rows
    table = subprocess.run([AICC, "usage", "--project", idle[0]], env={**cli.env, "COLUMNS": "250"}, text=True,
                           capture_output=True, timeout=60, check=True).stdout
    assert "never at this rate" in table


def test_a_second_demo_says_how_to_get_a_token_or_password_again(cli: Cli) -> None:
    again = subprocess.run([AICC, "demo", "--if-empty", "--url", cli.url], env=cli.env, text=True,
                           capture_output=True, timeout=60)
    assert again.returncode == 0 and "demo not loaded" in again.stdout
    assert "aicc token create --user" in again.stdout and "aicc admin users set-password" in again.stdout


def test_relative_dates_stay_valid_in_examples() -> None:
    import datetime as dt

    today = dt.date(2026, 1, 31)
    assert relative_date("today", today) == today
    assert relative_date("today+30d", today) == dt.date(2026, 3, 2)
    assert relative_date("TODAY-1w", today) == dt.date(2026, 1, 24)
    assert relative_date("today+1m", today) == dt.date(2026, 2, 28)  # clamped to the month's last day
    assert relative_date("today+1y", today) == dt.date(2027, 1, 31)
    assert relative_date("2027-01-02", today) is None
    bad = cli_date_error("today+")
    assert "today+30d" in bad


def cli_date_error(text: str) -> str:
    from aicc.cli.client import CliError
    from aicc.cli.lookup import parse_date

    try:
        parse_date(text, "--end")
    except CliError as exc:
        return str(exc)
    raise AssertionError("accepted")


def test_a_command_naming_a_local_file_says_the_file_is_not_sent(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "analysis.py").write_text("print(1)\n")
    done = subprocess.run([AICC, "submit", "--flavor", "cpu", "--", "python3", "analysis.py"], cwd=tmp_path,
                          env={**cli.env, "AICC_TOKEN": cli.tokens["bob"]}, text=True, capture_output=True, timeout=60)
    assert done.returncode == 0 and "Submitted job" in done.stdout
    assert "analysis.py is a file here, but only the command is sent" in done.stderr
    assert "aicc submit analysis.py" in done.stderr
