"""The pure rules of support programs, scenario by scenario."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aicc.core import programs as rules
from aicc.core.errors import Conflict, InvalidInput

T0 = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
RUBRIC = [rules.Criterion("excellence", 3.0, 10.0), rules.Criterion("feasibility", 1.0, 5.0)]


@pytest.mark.parametrize(("kinds", "regions", "kind", "region", "expect"), [
    ((), (), "hospital", None, None),
    (("startup",), (), "startup", "부산광역시", None),
    (("startup",), (), "hospital", "광주광역시", "open to startup organizations; yours is a hospital"),
    ((), ("광주광역시", "전라남도"), "company", "서울특별시", "yours is in 서울특별시"),
    ((), ("광주광역시",), "company", None, "no region on record"),
])
def test_eligibility_names_the_rule_that_fails(kinds: tuple[str, ...], regions: tuple[str, ...], kind: str,
                                               region: str | None, expect: str | None) -> None:
    found = rules.eligibility_problem(rules.Eligibility(kinds, regions), org_kind=kind, region=region)
    if expect is None:
        assert found is None
    else:
        assert found is not None and expect in found


def test_weighted_score_normalizes_each_criterion_then_weights() -> None:
    # (3 × 8/10 + 1 × 5/5) / 4 = 0.85
    assert rules.weighted_score(RUBRIC, {"excellence": 8, "feasibility": 5}) == 85.0
    assert rules.weighted_score(RUBRIC, {"excellence": 0, "feasibility": 0}) == 0.0
    assert rules.weighted_score(RUBRIC, {"excellence": 10, "feasibility": 5}) == 100.0


@pytest.mark.parametrize(("scores", "message"), [
    ({"excellence": 10.5, "feasibility": 1}, "between 0 and 10"),
    ({"excellence": -1, "feasibility": 1}, "between 0 and 10"),
    ({"excellence": float("nan"), "feasibility": 1}, "between 0 and 10"),
    ({"excellence": 5}, "missing feasibility"),
    ({"excellence": 5, "feasibility": 1, "novelty": 3}, "unknown novelty"),
])
def test_scores_outside_the_rubric_are_refused(scores: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        rules.weighted_score(RUBRIC, scores)


def test_aggregate_reports_mean_and_spread() -> None:
    agg = rules.aggregate([60.0, 90.0, 75.0])
    assert (agg.mean, agg.spread, agg.reviews) == (75.0, 30.0, 3)
    assert rules.aggregate([]) == rules.Aggregate(None, None, None, 0)


def test_ranking_best_first_unscored_last_ties_to_the_earlier_submission() -> None:
    cands = [rules.Candidate(1, 80.0, 2, {}, T0 + dt.timedelta(hours=2)),
             rules.Candidate(2, None, 0, {}, T0),
             rules.Candidate(3, 80.0, 2, {}, T0 + dt.timedelta(hours=1)),
             rules.Candidate(4, 95.0, 2, {}, T0 + dt.timedelta(hours=3))]
    assert [c.application_id for c in rules.rank(cands)] == [4, 3, 1, 2]


def test_auto_award_skips_what_does_not_fit_and_what_lacks_reviews() -> None:
    ranked = [rules.Candidate(1, 95.0, 2, {"h100": 800.0}, T0),
              rules.Candidate(2, 90.0, 1, {"h100": 10.0}, T0),  # one review of two: never auto-awarded
              rules.Candidate(3, 85.0, 2, {"h100": 500.0}, T0),  # does not fit after 1
              rules.Candidate(4, 80.0, 2, {"h100": 200.0}, T0),
              rules.Candidate(5, 50.0, 2, {"h100": 1.0}, T0)]  # below the threshold
    assert rules.auto_awards(ranked, threshold=70.0, remaining={"h100": 1000.0}, min_reviews=2) == [1, 4]


def test_partial_award_must_be_less_and_within_the_request() -> None:
    requested = {"h100": 100.0, "a100": 50.0}
    rules.check_partial({"h100": 60.0}, requested)
    with pytest.raises(InvalidInput, match="cannot exceed"):
        rules.check_partial({"h100": 120.0}, requested)
    with pytest.raises(InvalidInput, match="did not ask for"):
        rules.check_partial({"cpu": 1.0}, requested)
    with pytest.raises(InvalidInput, match="use decision 'award'"):
        rules.check_partial(dict(requested), requested)


def test_request_over_cap_or_on_unfunded_flavors_is_refused() -> None:
    rules.check_request({"h100": 1000.0}, cap_su=1000.0, flavors=["h100"])
    with pytest.raises(InvalidInput, match="over the call's per-award cap of 1000"):
        rules.check_request({"h100": 600.0, "a100": 500.0}, cap_su=1000.0, flavors=["h100", "a100"])
    with pytest.raises(InvalidInput, match="not cpu"):
        rules.check_request({"cpu": 1.0}, cap_su=None, flavors=["h100"])
    with pytest.raises(InvalidInput, match="ask for some SU"):
        rules.check_request({"h100": 0.0}, cap_su=None, flavors=["h100"])


def test_window_refuses_before_opening_and_at_or_after_closing() -> None:
    rules.check_window(opens_at=T0, closes_at=T0 + dt.timedelta(days=1), now=T0, action="submit")
    with pytest.raises(Conflict, match="opens at"):
        rules.check_window(opens_at=T0, closes_at=T0 + dt.timedelta(days=1), now=T0 - dt.timedelta(seconds=1),
                           action="submit")
    with pytest.raises(Conflict, match="after the close date"):
        rules.check_window(opens_at=T0, closes_at=T0 + dt.timedelta(days=1), now=T0 + dt.timedelta(days=1),
                           action="submit")


def test_application_state_machine() -> None:
    s = rules.ApplicationState
    assert rules.application_transition(s.DRAFT, "submit", s.SUBMITTED) is s.SUBMITTED
    assert rules.application_transition(s.SUBMITTED, "withdraw", s.WITHDRAWN) is s.WITHDRAWN
    assert rules.application_transition(s.WITHDRAWN, "submit", s.SUBMITTED) is s.SUBMITTED
    assert rules.application_transition(s.SUBMITTED, "decide", s.REJECTED) is s.REJECTED
    for state, action, target in [(s.SUBMITTED, "edit", s.DRAFT), (s.AWARDED, "withdraw", s.WITHDRAWN),
                                  (s.DRAFT, "decide", s.AWARDED), (s.REJECTED, "decide", s.AWARDED)]:
        with pytest.raises(Conflict, match=f"cannot {action}"):
            rules.application_transition(state, action, target)


def test_agreement_is_accepted_or_declined_once() -> None:
    a = rules.AgreementState
    assert rules.agreement_transition(a.OFFERED, a.ACCEPTED) is a.ACCEPTED
    with pytest.raises(Conflict, match="already accepted"):
        rules.agreement_transition(a.ACCEPTED, a.ACCEPTED)
    with pytest.raises(Conflict, match="already declined"):
        rules.agreement_transition(a.DECLINED, a.ACCEPTED)


def test_discounts_reduce_the_cost_share_multiplicatively() -> None:
    args = {"base": 0.4, "regional_discount": 0.5, "youth_discount": 0.25}
    assert rules.cost_share_ratio(**args, regional=False, youth=False) == 0.4
    assert rules.cost_share_ratio(**args, regional=True, youth=False) == 0.2
    assert rules.cost_share_ratio(**args, regional=True, youth=True) == 0.15
    st = rules.settle(used_su=1000.0, ratio=0.15, su_price_krw=2000.0)
    assert (st.organization_su, st.program_su, st.organization_krw, st.program_krw) == (150.0, 850.0, 300000.0,
                                                                                         1700000.0)
    assert rules.settle(used_su=10.0, ratio=0.5, su_price_krw=None).organization_krw is None


def test_utilization_plan_is_linear_and_reclaim_is_bounded_by_unused() -> None:
    end = T0 + dt.timedelta(days=100)
    u = rules.utilization(budget_su=1000.0, used_su=100.0, starts_at=T0, ends_at=end, now=T0 + dt.timedelta(days=50))
    assert (u.planned_su, u.ratio, u.unused_su, u.shortfall_su) == (500.0, 0.2, 900.0, 400.0)
    before = rules.utilization(budget_su=1000.0, used_su=0.0, starts_at=T0, ends_at=end, now=T0)
    assert before.ratio is None  # nothing was planned yet, so nothing is under-used
    rules.check_reclaim(900.0, u)
    with pytest.raises(InvalidInput, match="only 900 SU"):
        rules.check_reclaim(900.5, u)
    with pytest.raises(InvalidInput, match="positive"):
        rules.check_reclaim(0.0, u)


def test_utilization_status_warns_then_proposes_after_grace() -> None:
    u = rules.utilization(budget_su=1000.0, used_su=100.0, starts_at=T0, ends_at=T0 + dt.timedelta(days=100),
                          now=T0 + dt.timedelta(days=50))
    now = T0 + dt.timedelta(days=50)
    kw = {"threshold": 0.5, "grace_days": 30.0, "now": now}
    assert rules.utilization_status(u, warned_since=None, **kw) is rules.UtilizationStatus.WARNING
    assert rules.utilization_status(u, warned_since=now - dt.timedelta(days=29), **kw) is (
        rules.UtilizationStatus.WARNING)
    assert rules.utilization_status(u, warned_since=now - dt.timedelta(days=30), **kw) is (
        rules.UtilizationStatus.RECLAIM_PROPOSED)
    assert rules.utilization_status(u, warned_since=None, threshold=0.2, grace_days=30.0, now=now) is (
        rules.UtilizationStatus.OK)


def test_split_by_flavor_is_proportional() -> None:
    assert rules.split_by_flavor(300.0, {"h100": 2000.0, "a100": 1000.0}) == {"h100": 200.0, "a100": 100.0}


def test_rubric_validation() -> None:
    with pytest.raises(InvalidInput, match="at least one"):
        rules.validate_rubric([])
    with pytest.raises(InvalidInput, match="distinct"):
        rules.validate_rubric([rules.Criterion("a", 1, 1), rules.Criterion("a", 1, 2)])
    with pytest.raises(InvalidInput, match="positive"):
        rules.validate_rubric([rules.Criterion("a", 0, 1)])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 100), st.integers(0, 3), st.floats(0, 2000)), max_size=12),
       st.floats(0, 5000), st.floats(0, 100))
def test_auto_award_never_spends_more_than_is_left_nor_awards_below_threshold(
        apps: list[tuple[float, int, float]], budget: float, threshold: float) -> None:
    ranked = rules.rank(rules.Candidate(i, mean, n, {"h100": su}, T0) for i, (mean, n, su) in enumerate(apps))
    chosen = rules.auto_awards(ranked, threshold=threshold, remaining={"h100": budget}, min_reviews=2)
    by_id = dict(enumerate(apps))
    assert sum(by_id[i][2] for i in chosen) <= budget + 1e-6
    assert all(by_id[i][0] >= threshold and by_id[i][1] >= 2 for i in chosen)


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 10), st.floats(0, 5))
def test_weighted_score_stays_on_0_to_100(excellence: float, feasibility: float) -> None:
    assert 0.0 <= rules.weighted_score(RUBRIC, {"excellence": excellence, "feasibility": feasibility}) <= 100.0
