"""`aicc submit --image` against a live `aicc server` (its own controller thread, woken by pull progress):
an array and an afterok chain in one image, each task pinned to the same digest, shown by `aicc job show`."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from tests.cli.conftest import AICC, Cli, free_port
from tests.cli.test_jobs_cli import wait_state
from tests.live_server import aicc_server

pytestmark = pytest.mark.registry


@pytest.fixture(scope="module")
def center(registry: str, tmp_path_factory: pytest.TempPathFactory, node_cache: Path) -> Iterator[Cli]:
    home = tmp_path_factory.mktemp("center")
    (home / "var").mkdir()
    (home / "var" / "images").symlink_to(node_cache, target_is_directory=True)  # the node's cache, shared
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICC_")}
    env.update(AICC_HOME=str(home / "var"), AICC_CONFIG_DIR=str(home / "config"), AICC_URL=url,
               AICC_REGISTRIES=registry, AICC_INSECURE_REGISTRIES=registry, AICC_TICK_SECONDS="5")
    subprocess.run([AICC, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60)
    demo = subprocess.run([AICC, "demo", "--url", url], env=env, check=True, capture_output=True, text=True,
                          timeout=60)
    tokens = {line.split()[2].rstrip(":"): line.split()[-1] for line in demo.stdout.splitlines()
              if line.startswith("token for ")}
    with aicc_server(AICC, env, url, port, home / "server.log"):
        yield Cli(env, url, "", tokens)


def test_submit_with_an_image_runs_an_array_and_a_chain_in_it_pinned_to_one_digest(center: Cli, registry: str
                                                                                    ) -> None:
    bob = center.tokens["bob"]
    ref = f"{registry}/aicc-test/python:3.13"
    out = center.run("submit", "--flavor", "cpu", "--image", ref, "--array", "0-1", "--",
                     "python3", "-c", "import sys, os; print('task', os.environ['AICC_ARRAY_TASK_ID'], "
                     "sys.version_info[:2])", token=bob).stdout
    first, last = (int(x) for x in out.split("tasks: ")[1].rstrip(")\n").split("-"))
    after = int(center.run("submit", "--flavor", "cpu", "--image", ref, "--after", str(last), "--",
                           "python3", "--version", token=bob).stdout.split()[-1])
    jobs = [wait_state(center, j, "succeeded", "failed", token=bob, timeout=120) for j in (first, last, after)]
    assert [j["state"] for j in jobs] == ["succeeded"] * 3, [j["reason"] for j in jobs]
    assert {j["image_digest"] for j in jobs} == {jobs[0]["image_digest"]} and jobs[0]["image_digest"]
    assert "task 1 (3, 13)" in center.run("logs", str(last), token=bob).stdout
    shown = center.run("job", "show", str(after), token=bob).stdout
    assert ref in shown and cast(str, jobs[0]["image_digest"]) in shown
    bad = center.run("submit", "--flavor", "cpu", "--image", "python", "--", "true", token=bob, check=False)
    assert bad.returncode != 0 and "names no tag or digest" in bad.stderr + bad.stdout


