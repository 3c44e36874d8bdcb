"""The simulator loads the testbed's exported matrix: it places jobs by it and times them by it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aicc.sim.measured import apply_matrix, load_matrix
from aicc.sim.trace import SimJob, Trace


def test_matrix_rescales_durations_from_the_reference_flavor_and_feeds_placement() -> None:
    trace = Trace([SimJob(0, "p", 0.0, 1, {"a100": 100.0, "h100": 100.0, "cpu": 900.0}, "ocr"),
                   SimJob(1, "p", 0.0, 1, {"a100": 100.0}, None),
                   SimJob(2, "p", 0.0, 1, {"v100": 50.0}, "ocr")])
    m = {"ocr": {"a100": 500.0, "h100": 2000.0}}
    out = apply_matrix(trace, m, default_class="ocr")
    assert out.jobs[0].durations == {"a100": 100.0, "h100": 25.0, "cpu": 900.0}  # cpu unmeasured: kept
    assert out.jobs[1].workload_class == "ocr" and out.jobs[1].durations == {"a100": 100.0}
    assert out.jobs[2].durations == {"v100": 50.0}  # nothing measured for its flavors
    assert out.throughput["ocr"] == {"a100": 500.0, "h100": 2000.0}


def test_load_matrix_reads_the_api_export_or_a_bare_table(tmp_path: Path) -> None:
    export = {"unit": "…", "matrix": {"ocr": {"a100": 500, "h100": 0, "x": "fast"}}, "su_rates": {}}
    assert load_matrix(json.dumps(export)) == {"ocr": {"a100": 500.0}}
    assert load_matrix('{"ocr": {"a100": 1.5}}') == {"ocr": {"a100": 1.5}}
    with pytest.raises(ValueError, match="not an object"):
        load_matrix('{"ocr": 3}')


def test_sim_cli_accepts_a_matrix(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from aicc.cli.sim import app

    m = tmp_path / "m.json"
    m.write_text(json.dumps({"matrix": {"ocr": {"v100": 300.0, "k80": 100.0}}}))
    r = CliRunner().invoke(app, ["run", "--synthetic", "30", "--matrix", str(m), "--matrix-class", "ocr",
                                 "--policy", "hetero", "--out", str(tmp_path / "out"), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["policies"]["hetero"]["finished"] == 30
