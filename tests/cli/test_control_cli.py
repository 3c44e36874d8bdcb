"""`aicc hold / release / update / requeue`, `submit --wait`, `logs --json` and `aicc jobs` past one page, with
USER and ELAPSED, as a Slurm user drives them, against a live server running its controller."""

from __future__ import annotations

import json
import re
from typing import Any, cast

from aicc.cli.client import Exit
from tests.cli.conftest import Cli
from tests.cli.test_jobs_cli import wait_state


def _id(out: str) -> int:
    m = re.search(r"Submitted (?:array )?job (\d+)", out)
    assert m, out
    return int(m.group(1))


def test_hold_update_release_and_requeue_from_the_command_line(cli: Cli) -> None:
    bob = cli.tokens["bob"]
    first = _id(cli.run("submit", "-p", "cpu", "--", "sleep", "3", token=bob).stdout)
    job_id = _id(cli.run("submit", "-p", "cpu", "-d", f"afterok:{first}", "--", "sh", "-c", "echo attempt; exit 3",
                         token=bob).stdout)  # waits for the first: time to hold it
    held = cli.run("hold", str(job_id), token=bob)
    assert f"job {job_id}: held: held by bob" in held.stdout
    listed = cli.run("jobs", token=bob).stdout
    assert re.search(rf"^{job_id}\s+sh\s+bob\s+haneul-llm\s+pending\s.*held by bob", listed, re.M), listed
    again = cli.run("hold", str(job_id), token=bob, check=False)
    assert again.returncode == Exit.REFUSED and "already held by bob" in again.stderr
    nothing = cli.run("update", str(job_id), token=bob, check=False)
    assert nothing.returncode == Exit.USAGE
    bad = cli.run("update", str(job_id), "-p", "nope", token=bob, check=False)
    assert bad.returncode == Exit.REFUSED and "unknown flavor nope" in bad.stderr
    changed = cast(dict[str, Any], json.loads(cli.run("update", str(job_id), "-t", "10m", "--priority", "3",
                                                      "--json", token=bob).stdout))
    assert changed["time_limit_s"] == 600 and changed["priority"] == 3 and changed["held_by"] == "bob"
    cli.run("release", str(job_id), token=bob)
    failed = wait_state(cli, job_id, "failed", token=bob)
    assert failed["attempt"] == 0
    requeued = cast(list[dict[str, Any]], json.loads(cli.run("requeue", str(job_id), "--json", token=bob).stdout))
    assert requeued[0]["state"] == "pending" and requeued[0]["attempt"] == 1
    assert wait_state(cli, job_id, "failed", token=bob)["attempt"] == 1
    other = cli.run("hold", str(job_id), token=cli.tokens["dana"], check=False)  # another organization's job
    assert other.returncode == Exit.REFUSED and "not found" in other.stderr


def test_submit_wait_ends_as_the_job_ended_and_logs_json_holds_the_output(cli: Cli) -> None:
    bob = cli.tokens["bob"]
    ok = cli.run("submit", "--wait", "-p", "cpu", "--", "sh", "-c", "echo waited", token=bob)
    job_id = _id(ok.stdout)
    assert f"job {job_id} succeeded" in ok.stdout
    logs = cast(dict[str, Any], json.loads(cli.run("logs", str(job_id), "--json", token=bob).stdout))
    assert (logs["job"], logs["stream"], logs["finished"]) == (job_id, "stdout", True)
    assert logs["data"].endswith("waited\n") and logs["size"] == len(logs["data"].encode())
    bad = cli.run("submit", "-W", "-p", "cpu", "--json", "--", "sh", "-c", "exit 4", token=bob, check=False)
    assert bad.returncode == Exit.JOB_FAILED
    ended = cast(list[dict[str, Any]], json.loads(bad.stdout))
    assert ended[0]["state"] == "failed" and ended[0]["exit_code"] == 4


def test_jobs_pages_past_five_hundred_and_shows_user_and_elapsed(cli: Cli) -> None:
    bob = cli.tokens["bob"]
    gate = _id(cli.run("submit", "-p", "cpu", "--", "sleep", "600", token=bob).stdout)
    array = _id(cli.run("submit", "-p", "cpu", "--array", "0-519", "-d", f"afterok:{gate}", "--", "true",
                        token=bob).stdout)  # 520 tasks that wait for the first job
    try:
        everything = cast(list[dict[str, Any]], cli.json("jobs", "--limit", "0", token=bob))
        assert len([j for j in everything if j["array_id"] == array]) == 520
        assert all(j["user"] == "bob" for j in everything)
        some = cli.run("jobs", "--limit", "510", token=bob)
        lines = some.stdout.splitlines()
        assert lines[0].split()[:10] == ["JOBID", "NAME", "USER", "PROJECT", "STATE", "FLAVOR", "GPUS", "ELAPSED",
                                         "TIME_LIMIT", "REASON"]
        assert len(lines) == 511 and "older jobs: aicc jobs --limit 510 --cursor" in some.stderr
        assert all(re.match(r"^\d+\s+\S+\s+bob\s+haneul-llm\s+pending\s+-\s+0\s+00:00:00\s+01:00:00\s", line)
                   for line in lines[1:]), lines[1:3]
    finally:
        cli.run("cancel", "--array", str(array), str(gate), token=bob)
