"""The testbed leaderboard: valid runs ranked by samples per SU; invalid runs listed, never ranked."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from aicc.store.db import Database
from aicc.store.models import BenchResultRow


def _result(flavor: str, sps: float, *, valid: bool = True, key: str = "") -> BenchResultRow:
    return BenchResultRow(run_key=key or f"run-{flavor}-{sps}", workload="ocr-rec", workload_class="ocr-inference",
                          scenario="Offline", flavor=flavor, device_model=f"{flavor} board", driver="", units=1,
                          valid=valid, invalid_reasons=[] if valid else ["accuracy 0.41 below 0.99"],
                          metric="samples_per_s", value=sps, samples_per_s=sps, document={})


def test_flavors_are_ranked_by_samples_per_su_and_invalid_runs_are_not(
        db: Database, portal: Callable[[str | None], TestClient]) -> None:
    with db.write() as s:
        # su rates in tests/world.py: h100 2.0, a100 1.0 -> a100 gives more samples per SU despite fewer per second
        s.add_all([_result("h100", 300.0), _result("a100", 200.0), _result("h100", 9999.0, valid=False)])
    page = portal("a-member").get("/testbed")
    assert page.status_code == 200
    html = page.text
    body = html[html.index("<h2"):]
    assert body.index("a100 board") < body.index("h100 board")  # rank 1: a100 (720,000 samples/SU vs 540,000)
    assert re.search(r"720,000", body) and "0.75×" in body
    invalid = body[body.index("무효 실행"):]
    assert "accuracy 0.41 below 0.99" in invalid
    ranked = body[:body.index("무효 실행")]
    assert "9,999" not in ranked
    assert portal(None).get("/testbed", follow_redirects=False).status_code in (303, 401)
