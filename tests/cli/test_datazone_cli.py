"""The secure data zone from the command line, on the demo center: custodian erin, analyst dana."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any, cast

from tests.cli.conftest import Cli
from tests.cli.test_jobs_cli import wait_state

ANALYSIS = """
import pandas as pd
from aicc import datazone
df = pd.read_csv("/data/cxr-cohort/patients.csv")
(datazone.output_dir() / "summary.txt").write_text(f"{len(df)} patients, mean stay {df.los_days.mean():.1f} days\\n")
"""


def test_custodian_releases_an_output_the_analyst_then_downloads(cli: Cli, tmp_path: Path) -> None:
    dana, erin = cli.tokens["dana"], cli.tokens["erin"]
    listed = cast(list[dict[str, Any]], cli.json("datasets", "list", token=dana))
    assert [d["name"] for d in listed] == ["cxr-cohort"]
    assert cli.json("datasets", "list", token=cli.tokens["bob"]) == []  # another organization, no grant

    out = cli.run("submit", "--project", "jnu-vision", "--flavor", "cpu", "--mem", "2G", "--dataset", "cxr-cohort",
                  "--", sys.executable, "-c", ANALYSIS, token=dana).stdout
    job_id = int(re.fullmatch(r"Submitted job (\d+)\n", out).group(1))  # type: ignore[union-attr]
    job = wait_state(cli, job_id, "succeeded", "failed", token=dana, timeout=120)
    assert job["state"] == "succeeded", job
    refused = cli.run("logs", str(job_id), token=dana, check=False)
    assert refused.returncode != 0 and "held" in refused.stderr

    deadline = time.monotonic() + 30
    while not (reqs := cast(list[dict[str, Any]], cli.json("outputs", "list", token=dana))):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    req = reqs[0]
    assert req["job_id"] == job_id
    early = cli.run("outputs", "download", str(req["id"]), "out/summary.txt", "-o", str(tmp_path), token=dana,
                    check=False)
    assert early.returncode != 0 and "not been released" in early.stderr
    held = cli.run("outputs", "show", str(req["id"]), token=dana).stdout  # the analyst: a count, no names
    assert "held for review" in held and "summary.txt" not in held and "stdout.log" not in held

    shown = cli.run("outputs", "show", str(req["id"]), token=erin).stdout
    assert "out/summary.txt" in shown and "stdout.log" in shown
    assert "Approved out/summary.txt" in cli.run("outputs", "approve", str(req["id"]), "out/summary.txt",
                                                 "--comment", "aggregate only", token=erin).stdout
    cli.run("outputs", "download", str(req["id"]), "out/summary.txt", "-o", str(tmp_path), token=dana)
    assert (tmp_path / "summary.txt").read_text().startswith("600 patients")

    verified = cast(dict[str, Any], cli.json("audit", "verify"))
    assert verified["intact"] is True
    cli.run("audit", "export", "--out", str(tmp_path / "trail.json"), "--format", "json", "--action",
            "output.download", token=erin)
    trail = __import__("json").loads((tmp_path / "trail.json").read_text())
    assert [e["actor"] for e in trail] == ["dana"]  # the custodian sees who downloaded her data's outputs
