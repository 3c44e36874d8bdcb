"""Benchmark results are trusted only from the center's own runner; a forged one is kept invalid, never ranked."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from aicc.testbed import trust
from tests.testbed.conftest import Harness
from tests.testbed.test_results_api import document
from tests.world import World

H = World.auth

FORGED_RUN = """
import json
doc = {DOC}
open("bench-result.json", "w").write(json.dumps(doc))
"""


def _forger(tmp: Path, runner_hash: str) -> Path:
    """A package ``aicc`` whose ``aicc/testbed/run.py`` writes a 1e9 samples/s result (with the real hash)."""
    doc = document("cpu", 1e9, cls="ocr-orientation") | {
        "runner": {"hash": runner_hash, "isolated": True, "python": sys.executable}}
    pkg = tmp / "evil" / "aicc" / "testbed"
    pkg.mkdir(parents=True)
    (pkg.parent / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "run.py").write_text(textwrap.dedent(FORGED_RUN).replace("{DOC}", repr(doc)))
    return tmp / "evil"


def test_a_job_with_its_own_pythonpath_runner_is_stored_invalid_and_never_ranked(harness: Harness,
                                                                                  tmp_path: Path) -> None:
    """The attack: PYTHONPATH at a forged aicc/testbed/run.py, which reports 1e9 samples/s. Jobs are isolated, so
    the forged package outside the job's own directory is not even visible and the real runner runs; the result
    must still be stored invalid (its environment could have loaded other code) and never ranked."""
    w = harness.world
    member = H(w.a.member_token)
    evil = _forger(tmp_path, trust.runner_hash())
    job_id = harness.submit(w.a.member_token, flavors=["cpu"], env={"PYTHONPATH": str(evil)},
                            command=[sys.executable, "-m", "aicc.testbed.run", "--workload", "ocr-cls",
                                     "--flavor", "cpu"])
    assert harness.until_state(job_id, "succeeded", "failed", timeout=60)["state"] == "succeeded"
    harness.until(lambda: bool(harness.client.get("/api/v1/bench/results", headers=member).json()))
    (row,) = harness.client.get("/api/v1/bench/results", headers=member).json()  # the controller ingested it
    assert row["job_id"] == job_id and not row["valid"]
    assert row["samples_per_s"] != 1e9  # isolation: the forged package was out of the job's sight
    reasons = " | ".join(row["invalid_reasons"])
    assert "PYTHONPATH" in reasons and "python -I -m aicc.testbed.run" in reasons
    assert harness.client.get("/api/v1/bench/matrix", headers=member).json()["matrix"] == {}
    placed = harness.submit(w.a.member_token, flavors=["cpu"], workload_class="ocr-orientation", command=["true"])
    harness.until_state(placed, "running", "succeeded")
    why = harness.client.get(f"/api/v1/bench/explain/{placed}", headers=member).json()
    assert "no valid benchmark of class ocr-orientation" in why["explanation"]


def test_only_the_exact_isolated_runner_command_without_code_loading_environment_is_the_center_s() -> None:
    ok = [*trust.runner_argv(), "--workload", "ocr-cls"]
    assert trust.job_reasons(ok, {}, None) == []
    assert trust.job_reasons(ok, {"AICC_X": "1", "OMP_NUM_THREADS": "2"}, None) == []
    for command, env, script, words in [
        ([sys.executable, "-m", "aicc.testbed.run"], {}, None, "isolated mode"),
        (["/tmp/my-python", "-I", "-m", "aicc.testbed.run"], {}, None, "is not the center's"),
        (ok, {"PYTHONPATH": "/x"}, None, "PYTHONPATH"),
        (ok, {"LD_PRELOAD": "/x.so"}, None, "LD_PRELOAD"),
        (ok, {}, "#!/bin/sh\n", "script"),
    ]:
        reasons = trust.job_reasons(command, env, script)
        assert reasons and words in " ".join(reasons), (command, env, reasons)


def test_a_result_without_the_servers_runner_hash_or_not_isolated_is_untrusted() -> None:
    good = {"runner": {"hash": trust.runner_hash(), "isolated": True}}
    assert trust.result_reasons(good) == []
    assert "no runner hash" in trust.result_reasons({})[0]
    assert "is not the center's runner" in trust.result_reasons({"runner": {"hash": "0" * 64, "isolated": True}})[0]
    assert "isolated" in trust.result_reasons({"runner": {"hash": trust.runner_hash(), "isolated": False}})[0]
    assert trust.install_reasons() == ()  # this checkout: code not writable by others


def test_the_runner_hash_changes_with_any_code_file(tmp_path: Path) -> None:
    pkg = tmp_path / "aicc"
    (pkg / "testbed").mkdir(parents=True)
    (pkg / "testbed" / "run.py").write_text("print(1)\n")
    before = trust.runner_hash(pkg)
    (pkg / "testbed" / "run.py").write_text("print(2)\n")
    trust.runner_hash.cache_clear()
    assert trust.runner_hash(pkg) != before
    (pkg / "testbed" / "run.py").chmod(0o666)
    assert trust.install_reasons(pkg) and "writable by other users" in trust.install_reasons(pkg)[0]
