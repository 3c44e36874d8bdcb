"""Results → validity → throughput matrix → placement by samples/SU → a reason a user can read."""

from __future__ import annotations

import pytest

from aicc.core.benchmarks import ResultFacts, build_matrix, compare_rows, explain_choice, rank_flavors, validity
from aicc.core.scheduling import POLICIES, FlavorInfo, NodeInfo, PendingJob, ProjectState, Scheduler

RATES = {"h100": 2.0, "a100": 1.0, "cpu": 0.02}


def test_a_result_is_valid_only_with_both_verdicts_and_no_errors() -> None:
    assert validity(True, True) == []
    assert validity(False, True) == ["LoadGen: INVALID"]
    assert validity(True, False) == ["accuracy check failed"]
    assert validity(None, None) == ["no LoadGen verdict", "accuracy not checked"]
    assert validity(True, True, ["predict failed"]) == ["predict failed"]


def test_matrix_ranks_only_valid_results_newest_first_and_prefers_offline_per_unit() -> None:
    facts = [
        ResultFacts("ocr", "h100", "Offline", True, 800.0, units=2, created=1),
        ResultFacts("ocr", "h100", "Offline", True, 1000.0, units=2, created=2),  # newer wins
        ResultFacts("ocr", "h100", "SingleStream", True, 9999.0, created=3),  # Offline preferred
        ResultFacts("ocr", "a100", "Offline", False, 1e9, created=4),  # invalid: never ranked
        ResultFacts("ocr", "a100", "Server", True, 300.0, created=5),  # the best a100 has
        ResultFacts("ocr", "cpu", "Offline", True, 0.0, created=6),  # no figure: skipped
    ]
    assert build_matrix(facts) == {"ocr": {"a100": 300.0, "h100": 500.0}}


def test_explanations_say_how_much_better_per_su_or_that_nothing_was_measured() -> None:
    m = {"ocr-inference": {"h100": 500.0, "a100": 525.0}}
    assert rank_flavors(m, "ocr-inference", RATES, ["h100", "a100"])[0][0] == "a100"
    assert explain_choice(m, "ocr-inference", "a100", RATES, ["h100", "a100"]) == \
        "a100: 2.1× the samples/SU of h100 for class ocr-inference"
    assert "fewer samples/SU than a100" in explain_choice(m, "ocr-inference", "h100", RATES, ["h100", "a100"])
    assert explain_choice(m, "ocr-inference", "a100", RATES, ["a100", "cpu"]) == \
        "a100: the only measured flavor for class ocr-inference (cpu not measured)"
    assert "no valid benchmark of class llm" in explain_choice(m, "llm", "a100", RATES, ["a100"])
    assert "no workload class" in explain_choice(m, None, "a100", RATES, ["a100"])


def _scheduler(throughput: dict[str, dict[str, float]], policy: str) -> Scheduler:
    flavors = [FlavorInfo("h100", 2.0), FlavorInfo("a100", 1.0)]
    nodes = [NodeInfo("h", "h100", 4, 32, 256_000), NodeInfo("a", "a100", 4, 32, 256_000)]
    s = Scheduler(flavors, nodes, POLICIES[policy], throughput)
    s.set_project(ProjectState(1, nominal={"h100": 8, "a100": 8}))
    return s


@pytest.mark.parametrize(("speeds", "policy", "expected"), [
    ({"h100": 500.0, "a100": 525.0}, "hetero", "a100"),  # a100 2.1x the samples/SU
    ({"h100": 2000.0, "a100": 500.0}, "hetero", "h100"),  # h100 4x as fast at 2x the rate: 2x per SU
    ({"h100": 2000.0, "a100": 500.0}, "aicc", "a100"),  # without the matrix: cheapest first
])
def test_hetero_policy_places_by_measured_samples_per_su(speeds: dict[str, float], policy: str,
                                                         expected: str) -> None:
    s = _scheduler({"ocr-inference": speeds}, policy)
    s.submit(PendingJob(1, 1, ("h100", "a100"), 1, 1, 1000, 600.0, workload_class="ocr-inference"))
    (admission,) = s.cycle(now=10.0).admissions
    assert admission.flavor == expected


def test_compare_rows_rank_flavors_within_a_scenario_and_skip_invalid() -> None:
    results = [
        {"id": 1, "flavor": "h100", "scenario": "Offline", "valid": True, "samples_per_s": 1000.0, "units": 1},
        {"id": 2, "flavor": "a100", "scenario": "Offline", "valid": True, "samples_per_s": 700.0, "units": 1},
        {"id": 3, "flavor": "a100", "scenario": "Offline", "valid": False, "samples_per_s": 1e6, "units": 1},
    ]
    rows = compare_rows(results, RATES)
    assert [r["flavor"] for r in rows] == ["a100", "h100"]
    assert rows[0]["vs_best"] == 1.0 and rows[1]["vs_best"] == pytest.approx(500 / 700)
    assert rows[0]["result"] == 2
