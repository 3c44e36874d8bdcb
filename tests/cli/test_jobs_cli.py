"""`aicc submit / jobs / job show / logs / cancel / usage` against a live server running its controller."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, cast

from tests.cli.conftest import Cli


def wait_state(cli: Cli, job_id: int, *states: str, token: str | None = None, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = cast(dict[str, Any], cli.json("job", "show", str(job_id), token=token))
        if job["state"] in states:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} not in {states}: {job}")


def test_submit_follow_logs_and_usage(cli: Cli, tmp_path: Path) -> None:
    bob = cli.tokens["bob"]
    out = cli.run("submit", "--gpus", "2", "--flavor", "h100", "--time", "5m", "--",
                  "sh", "-c", "echo hello from $CUDA_VISIBLE_DEVICES; sleep 1", token=bob).stdout
    job_id = int(re.fullmatch(r"Submitted job (\d+)\n", out).group(1))  # type: ignore[union-attr]
    logs = cli.run("logs", str(job_id), "-f", token=bob).stdout
    assert "hello from 0,1" in logs
    job = wait_state(cli, job_id, "succeeded", token=bob)
    assert job["time_limit_s"] == 300 and job["flavor"] == "h100"
    shown = cli.run("job", "show", str(job_id), token=bob).stdout
    assert "succeeded" in shown and "haneul-llm" in shown
    listed = cli.run("jobs", "--all", token=bob).stdout
    assert str(job_id) in listed
    usage = cast(list[dict[str, Any]], cli.json("usage", token=bob))
    assert usage[0]["project"] == "haneul-llm" and usage[0]["used_su"] > 0
    csv_file = tmp_path / "ledger.csv"
    cli.run("usage", "--csv", str(csv_file), token=bob)
    assert csv_file.read_text().startswith("id,job_id,attempt,interval,project")


def test_script_array_dependency_and_cancel(cli: Cli, tmp_path: Path) -> None:
    bob = cli.tokens["bob"]
    script = tmp_path / "train.sh"
    script.write_text("#!/bin/sh\necho task $AICC_ARRAY_TASK_ID\n")
    out = cli.run("submit", "--project", "haneul-llm", "--array", "0-2", "--flavor", "cpu", str(script),
                  token=bob).stdout
    assert re.fullmatch(r"Submitted array job (\d+) \(3 tasks: \d+-\d+\)\n", out)
    sleeper = int(cli.run("submit", "--flavor", "cpu", "--", "sleep", "60", token=bob).stdout.split()[-1])
    after = int(cli.run("submit", "--flavor", "cpu", "--after", str(sleeper), "--", "true", token=bob)
                .stdout.split()[-1])
    wait_state(cli, sleeper, "running", token=bob)
    shown = cast(dict[str, Any], cli.json("job", "show", str(after), token=bob))
    assert shown["reason"] == f"waiting: for job {sleeper} to succeed (afterok)"
    assert "cancel requested" in cli.run("cancel", str(sleeper), token=bob).stdout
    wait_state(cli, sleeper, "cancelled", token=bob)
    gone = wait_state(cli, after, "cancelled", token=bob)
    assert gone["reason"] == f"dependency never satisfied: job {sleeper} cancelled"


def test_bad_submissions_are_explained(cli: Cli) -> None:
    bob = cli.tokens["bob"]
    r = cli.run("submit", "--gpus", "64", "--flavor", "h100", "--", "true", token=bob, check=False)
    assert r.returncode == 4 and "no flavor of this center could ever run this job" in r.stderr  # refused
    r = cli.run("submit", "--time", "soon", "--", "true", token=bob, check=False)
    assert r.returncode == 2 and "--time" in r.stderr  # a usage error, found before anything was sent
    r = cli.run("submit", "--project", "jnu-vision", "--", "true", token=bob, check=False)
    assert r.returncode == 4 and "not found" in r.stderr
    down = cli.run("submit", "--", "true", token=bob, check=False, env={"AICC_URL": "http://127.0.0.1:9"})
    assert down.returncode == 3 and "cannot reach AICC" in down.stderr


def test_tasks_per_node_and_one_ranks_logs(cli: Cli) -> None:
    bob = cli.tokens["bob"]
    out = cli.run("submit", "--gpus", "2", "--flavor", "h100", "--tasks-per-node", "2", "--time", "5m", "--",
                  "sh", "-c", "echo rank $RANK of $WORLD_SIZE has $CUDA_VISIBLE_DEVICES", token=bob).stdout
    job_id = int(re.fullmatch(r"Submitted job (\d+)\n", out).group(1))  # type: ignore[union-attr]
    merged = cli.run("logs", str(job_id), "-f", token=bob).stdout
    assert "0: rank 0 of 2 has 0\n" in merged and "1: rank 1 of 2 has 1\n" in merged
    assert cli.run("logs", str(job_id), "--rank", "1", token=bob).stdout == "rank 1 of 2 has 1\n"
    refused = cli.run("submit", "--gpus", "2", "--flavor", "h100", "--tasks-per-node", "3", "--", "true",
                      token=bob, check=False)
    assert refused.returncode != 0 and "--tasks-per-node 3 is more than the 2 h100 accelerators" in refused.stderr
