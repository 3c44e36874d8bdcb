"""A Slurm user's script as it is: #SBATCH lines read as sbatch reads them, sbatch's short flags, and a
warning (never silence) for what AICC does not know."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, cast

import pytest

from aicc.cli import sbatch
from tests.cli.conftest import AICC, Cli


def test_directives_are_read_until_the_first_command_and_unknown_ones_are_kept_for_the_warning() -> None:
    d = sbatch.read("#!/bin/bash\n#SBATCH -A haneul-llm --partition=h100,a100\n#SBATCH --time=2:00:00 -c 4\n"
                    "# a comment\n#SBATCH --gres=gpu:h100:2 --mem 16G -J 학습 --mail-type=END\n"
                    "#SBATCH --ntasks-per-node 8 --qos normal\n\necho hi\n#SBATCH --time=9:00:00\n")
    assert d.options == {"project": "haneul-llm", "flavor": "h100,a100", "time": "2:00:00", "cpus": "4",
                         "gres": "gpu:h100:2", "mem": "16G", "name": "학습", "notify": "END",
                         "tasks_per_node": "8"}
    assert d.unknown == ["--qos normal"]
    assert sbatch.notify_kinds("END,FAIL") == ["end", "fail"] and sbatch.notify_kinds("ALL") == ["end", "fail"]
    with pytest.raises(ValueError, match="AICC tells when a job ends"):
        sbatch.notify_kinds("BEGIN")


def test_gres_and_dependencies_in_sbatch_form() -> None:
    assert sbatch.gres_gpus("gpu:2") == 2 and sbatch.gres_gpus("gpu:h100:4") == 4 and sbatch.gres_gpus("gpu") == 1
    assert sbatch.gres_type("gpu:h100:4") == "h100" and sbatch.gres_type("gpu:2") is None
    assert sbatch.dependency("afterok:12:13,afterok:14") == [12, 13, 14]
    with pytest.raises(ValueError, match="afterok dependencies only"):
        sbatch.dependency("afterany:3")
    with pytest.raises(ValueError, match="not a job id"):
        sbatch.dependency("afterok:x")
    with pytest.raises(ValueError, match="gpu:N"):
        sbatch.gres_gpus("mps:100")


def test_a_script_s_sbatch_lines_size_the_job_and_the_command_line_wins(cli: Cli, tmp_path: Path) -> None:
    bob = cli.tokens["bob"]
    first = cli.run("submit", "-A", "haneul-llm", "-p", "cpu", "--", "true", token=bob).stdout.split()[-1]
    script = tmp_path / "train.sh"
    script.write_text("#!/bin/sh\n#SBATCH -A haneul-llm -p cpu\n#SBATCH -t 30 -c 2 --mem=1G -J from-script\n"
                      f"#SBATCH -d afterok:{first} --mail-user=a@b.kr\necho trained\n")
    done = subprocess.run([AICC, "submit", "-J", "from-flag", str(script)], env={**cli.env, "AICC_TOKEN": bob},
                          text=True, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "#SBATCH --mail-user=a@b.kr: not known to AICC, ignored" in done.stderr
    job = cast(dict[str, Any], cli.json("job", "show", done.stdout.split()[-1], token=bob))
    assert job["name"] == "from-flag" and job["flavors"] == ["cpu"] and job["time_limit_s"] == 1800
    assert job["cpus"] == 2 and job["memory_mb"] == 1024 and job["depends_on"] == [int(first)]


def test_an_unsupported_dependency_kind_is_refused_before_anything_is_sent(cli: Cli) -> None:
    def job_ids() -> list[int]:  # ids only: an earlier job may still be ending between the two reads
        return sorted(j["id"] for j in cast(list[dict[str, Any]], cli.json("jobs", "--all", token=cli.tokens["bob"])))

    before = job_ids()
    refused = cli.run("submit", "-A", "haneul-llm", "-p", "cpu", "-d", "afterany:1", "--", "true",
                      token=cli.tokens["bob"], check=False)
    assert refused.returncode != 0 and "afterok dependencies only" in refused.stderr
    assert job_ids() == before


def test_version_is_printed() -> None:
    from importlib.metadata import version

    out = subprocess.run([AICC, "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == f"aicc {version('aicc')}"


def test_cancel_speaks_json_for_scripts(cli: Cli) -> None:
    bob = cli.tokens["bob"]
    job_id = int(cli.run("submit", "-A", "haneul-llm", "-p", "cpu", "--", "sleep", "60", token=bob).stdout.split()[-1])
    changed = cast(list[dict[str, Any]], cli.json("cancel", str(job_id), token=bob))
    assert [j["id"] for j in changed] == [job_id]
