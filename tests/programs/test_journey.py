"""The whole road on the services: apply → review → award → accept → the allocation exists → report = ledger."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from aicc.core import programs as rules
from aicc.core.errors import Conflict, InvalidInput, NotFound
from aicc.core.tenancy import CenterRole
from aicc.services import agreements, allocations, applications, audit, program_reports, programs, reviews
from aicc.services.principal import SYSTEM, Principal
from aicc.store.db import Database
from aicc.store.models import AgreementRow, AllocationRow, UsageRow, utcnow
from tests.programs.helpers import draft, ledger, make_program, principal
from tests.world import World


def reviewer(user_id: int, name: str) -> Principal:
    return Principal(user_id=user_id, username=name, center_role=CenterRole.REVIEWER)


def _through_review(db: Database, world: World, su: dict[str, float]) -> tuple[int, int, list[Principal]]:
    setup = make_program(db)
    a_admin = principal(db, world.a.admin_token)
    app_id = draft(db, a_admin, setup.call_id, world.a.project_id, su)
    with db.write() as s:
        applications.submit(s, a_admin, app_id)
        made = reviews.assign_round_robin(s, SYSTEM, setup.call_id)
        assert len(made) == 2
        revs = [reviewer(r.reviewer_id, f"r{r.reviewer_id}") for r in made]
        ids = [r.id for r in made]
    with db.write() as s:
        reviews.submit_scores(s, revs[0], ids[0], scores={"excellence": 9, "feasibility": 4}, comment="strong")
        reviews.submit_scores(s, revs[1], ids[1], scores={"excellence": 7, "feasibility": 5}, comment="good")
        programs.close_call(s, SYSTEM, setup.call_id)
    return setup.call_id, app_id, revs


def test_apply_review_award_accept_creates_the_enforced_allocation_and_report_matches_ledger(
        db: Database, world: World) -> None:
    call_id, app_id, _ = _through_review(db, world, {"h100": 1200.0, "a100": 300.0})
    a_admin = principal(db, world.a.admin_token)
    with db.read() as s:
        rank = reviews.ranking(s, SYSTEM, call_id)
    # (2·0.9 + 1·0.8)/3 = 86.666…, (2·0.7 + 1·1.0)/3 = 80 → mean 83.33, spread 6.67
    assert rank[0].application.id == app_id and rank[0].mean == pytest.approx(83.333333, abs=1e-5)
    assert rank[0].spread == pytest.approx(6.666667, abs=1e-5) and rank[0].reviews == 2
    with db.write() as s:
        reviews.decide(s, SYSTEM, app_id, decision=rules.Decision.PARTIAL, reason="a100 share is over-asked",
                       awarded_su={"h100": 1200.0, "a100": 100.0})
    with db.read() as s:
        g = s.execute(select(AgreementRow).where(AgreementRow.application_id == app_id)).scalar_one()
        assert g.state == "offered" and g.allocation_id is None
        # 광주광역시 gets the regional discount: 0.3 × (1 − 0.5)
        assert g.cost_share_ratio == pytest.approx(0.15)
        before = s.execute(select(func.count()).select_from(AllocationRow)).scalar_one()
        assert applications.get(s, a_admin, app_id).decision_reason == "a100 share is over-asked"
    with db.write() as s:
        agreements.accept(s, a_admin, g.id)
    with db.read() as s:
        g = s.get(AgreementRow, g.id)
        assert g is not None and g.state == "accepted" and g.allocation_id is not None
        view = allocations.get(s, SYSTEM, g.allocation_id)
        assert s.execute(select(func.count()).select_from(AllocationRow)).scalar_one() == before + 1
        assert view.row.project_id == world.a.project_id and view.row.budget_su == pytest.approx(1300.0)
        assert view.quotas["h100"].nominal == 4 and view.quotas["h100"].borrowing_limit == 2
        assert view.state.value == "active"
        history = [e.action for e in audit.list_events(s, SYSTEM, after=None, limit=1000)
                   if e.target_type == "allocation" and e.target_id == str(g.allocation_id)]
        assert history == ["allocation.create"]
    with db.write() as s, pytest.raises(Conflict, match="already accepted"):
        agreements.accept(s, a_admin, g.id)
    now = utcnow()
    spent = ledger(db, g.allocation_id, world.a.project_id,
                   [(now - dt.timedelta(days=40), 0.1), (now - dt.timedelta(hours=3), 12.345678901),
                    (now - dt.timedelta(hours=1), 7.000000123)])
    with db.read() as s:
        report = program_reports.build(s, SYSTEM, programs.get_call(s, SYSTEM, call_id).program_id)
        direct = s.execute(select(func.sum(UsageRow.su)).where(UsageRow.allocation_id == g.allocation_id)
                           ).scalar_one()
    per_org = {r[0]: r for r in report.sections["su_by_organization"].rows}
    assert per_org["org-a"][4] == round(direct, 6) == round(spent, 6)
    settlement = report.sections["settlement"].rows[0]
    assert settlement[6] == round(direct, 6)
    assert settlement[8] == pytest.approx(direct * 0.15, abs=1e-6)
    months = report.sections["utilization_by_month"].rows
    assert sum(r[2] for r in months) == pytest.approx(direct, abs=1e-5) and len(months) >= 1
    by_track = {r[0]: r for r in report.sections["by_track"].rows}
    assert by_track["medical"][1:5] == [1, 1, 0, 0]
    csv_text = program_reports.to_csv(report.sections["settlement"])
    assert csv_text.splitlines()[0].startswith("agreement_id,call,organization")
    xlsx = program_reports.to_xlsx(report)
    assert xlsx[:2] == b"PK"


def test_amendments_are_versioned_and_move_the_allocation(db: Database, world: World) -> None:
    call_id, app_id, _ = _through_review(db, world, {"h100": 1000.0})
    a_admin = principal(db, world.a.admin_token)
    with db.write() as s:
        reviews.decide(s, SYSTEM, app_id, decision=rules.Decision.AWARD, reason="excellent")
        g = s.execute(select(AgreementRow).where(AgreementRow.application_id == app_id)).scalar_one()
        agreements.accept(s, a_admin, g.id)
    with db.write() as s:
        agreements.amend(s, SYSTEM, g.id, kind=rules.AmendmentKind.TOP_UP, delta_su={"h100": 500.0}, reason="more")
        new_end = g.ends_at + dt.timedelta(days=30)
        agreements.amend(s, SYSTEM, g.id, kind=rules.AmendmentKind.EXTENSION, ends_at=new_end, reason="late data")
        agreements.amend(s, SYSTEM, g.id, kind=rules.AmendmentKind.REDUCTION, delta_su={"h100": 200.0},
                         reason="smaller model")
    with db.read() as s:
        assert g.allocation_id is not None
        view = allocations.get(s, SYSTEM, g.allocation_id)
        assert view.row.budget_su == pytest.approx(1300.0) and view.row.ends_at == new_end
        assert [(m.number, m.kind) for m in agreements.amendments(s, SYSTEM, g.id)] == [
            (0, "original"), (1, "top_up"), (2, "extension"), (3, "reduction")]
        program = programs.get_program(s, SYSTEM, programs.get_call(s, SYSTEM, call_id).program_id)
        assert program.committed_su["h100"] == pytest.approx(1300.0)
    ledger(db, g.allocation_id, world.a.project_id, [(utcnow() - dt.timedelta(hours=1), 100.0)])
    with db.write() as s, pytest.raises(InvalidInput, match="only 1200 SU"):
        agreements.amend(s, SYSTEM, g.id, kind=rules.AmendmentKind.REDUCTION, delta_su={"h100": 1250.0},
                         reason="too much")
    with db.read() as s:
        assert allocations.get(s, SYSTEM, g.allocation_id).row.budget_su == pytest.approx(1300.0)


def test_underuse_warns_then_proposes_a_reclaim_the_manager_approves(db: Database, world: World) -> None:
    call_id, app_id, _ = _through_review(db, world, {"h100": 1000.0})
    a_admin = principal(db, world.a.admin_token)
    with db.write() as s:
        reviews.decide(s, SYSTEM, app_id, decision=rules.Decision.AWARD, reason="excellent")
        g = s.execute(select(AgreementRow).where(AgreementRow.application_id == app_id)).scalar_one()
        agreements.accept(s, a_admin, g.id)
    assert g.allocation_id is not None
    ledger(db, g.allocation_id, world.a.project_id, [(g.starts_at + dt.timedelta(days=1), 50.0)])
    day40 = g.starts_at + dt.timedelta(days=40)
    with db.write() as s:
        first = agreements.check_utilization(s, SYSTEM, now=day40)
        # planned by day 40 of 100: 400 SU; used 50 → 12.5 %
        assert [(c.status, c.utilization.planned_su) for c in first] == [(rules.UtilizationStatus.WARNING, 400.0)]
        assert agreements.check_utilization(s, SYSTEM, now=day40 + dt.timedelta(days=1)) == []  # not due yet
    day71 = g.starts_at + dt.timedelta(days=71)
    with db.write() as s:
        second = agreements.check_utilization(s, SYSTEM, now=day71)
    assert second[0].status is rules.UtilizationStatus.RECLAIM_PROPOSED and second[0].reclaim_id is not None
    assert second[0].utilization.shortfall_su == pytest.approx(710.0 - 50.0)
    with db.write() as s, pytest.raises(InvalidInput, match="only 950 SU"):
        agreements.approve_reclaim(s, SYSTEM, second[0].reclaim_id, amount_su=951.0, now=day71)
    with db.write() as s:
        agreements.approve_reclaim(s, SYSTEM, second[0].reclaim_id, now=day71)
    with db.read() as s:
        view = allocations.get(s, SYSTEM, g.allocation_id)
        assert view.row.budget_su == pytest.approx(1000.0 - 660.0)
        program = programs.get_program(s, SYSTEM, programs.get_call(s, SYSTEM, call_id).program_id)
        assert program.remaining_su["h100"] == pytest.approx(5000.0 - 340.0)
        actions = [e.action for e in audit.list_events(s, SYSTEM, after=None, limit=1000)
                   if e.target_type == "allocation" and e.target_id == str(g.allocation_id)]
        assert actions == ["allocation.create", "agreement.utilization.warning",
                           "agreement.utilization.reclaim_proposed", "allocation.amend"]
    with db.write() as s, pytest.raises(Conflict, match="already approved"):
        agreements.approve_reclaim(s, SYSTEM, second[0].reclaim_id, now=day71)


def test_auto_award_gives_full_requests_above_threshold_until_the_budget_is_spent(db: Database, world: World) -> None:
    setup = make_program(db, budget=1500.0, threshold=60.0, reviewers=1)
    a_admin, b_admin = principal(db, world.a.admin_token), principal(db, world.b.admin_token)
    first = draft(db, a_admin, setup.call_id, world.a.project_id, {"h100": 1000.0}, "first")
    second = draft(db, b_admin, setup.call_id, world.b.project_id, {"h100": 1000.0}, "second")
    third = draft(db, a_admin, setup.call_id, world.a.project_id, {"h100": 400.0}, "third")
    with db.write() as s:
        for i in (first, second, third):
            applications.submit(s, a_admin if i != second else b_admin, i)
        made = reviews.assign_round_robin(s, SYSTEM, setup.call_id)
        by_app = {r.application_id: (r.id, reviewer(r.reviewer_id, "r")) for r in made}
    scores = {first: (10, 5), second: (9, 5), third: (7, 3)}  # 100, 93.3, 62.7
    with db.write() as s:
        for app_id, (ex, fe) in scores.items():
            rid, who = by_app[app_id]
            reviews.submit_scores(s, who, rid, scores={"excellence": ex, "feasibility": fe}, comment="")
        programs.close_call(s, SYSTEM, setup.call_id)
        awarded = [a.id for a in reviews.auto_award(s, SYSTEM, setup.call_id)]
    # the second does not fit after the first (1000 + 1000 > 1500); the smaller third still does
    assert awarded == [first, third]
    with db.read() as s:
        assert applications.get(s, SYSTEM, second).state == "submitted"


def test_reviewer_of_the_applicant_organization_is_refused_and_conflicts_drop_visibility(
        db: Database, world: World) -> None:
    setup = make_program(db)
    a_admin = principal(db, world.a.admin_token)
    app_id = draft(db, a_admin, setup.call_id, world.a.project_id, {"h100": 100.0})
    with db.write() as s:
        from aicc.core.tenancy import OrgRole
        from aicc.services import organizations

        organizations.add_member(s, SYSTEM, world.a.org_id, username="rev2", role=OrgRole.MEMBER)
        applications.submit(s, a_admin, app_id)
    with db.write() as s, pytest.raises(InvalidInput, match="applicant's organization"):
        reviews.assign(s, SYSTEM, app_id, username="rev2")
    with db.write() as s:
        made = reviews.assign_round_robin(s, SYSTEM, setup.call_id)
    assert setup.reviewer_ids[0] not in {r.reviewer_id for r in made} and len(made) == 2
    rev3 = reviewer(setup.reviewer_ids[1], "rev3")
    review = next(r for r in made if r.reviewer_id == rev3.user_id)
    with db.read() as s:
        assert applications.get(s, rev3, app_id).id == app_id
    with db.write() as s:
        reviews.declare_conflict(s, rev3, review.id, reason="former advisor of the PI")
    with db.read() as s, pytest.raises(NotFound):
        applications.get(s, rev3, app_id)


def test_a_call_budget_caps_its_awards_below_the_program_budget(db: Database, world: World) -> None:
    setup = make_program(db, budget=5000.0, threshold=60.0, reviewers=1, call_budget={"h100": 1200.0})
    a_admin, b_admin = principal(db, world.a.admin_token), principal(db, world.b.admin_token)
    big = draft(db, a_admin, setup.call_id, world.a.project_id, {"h100": 1000.0}, "big")
    small = draft(db, b_admin, setup.call_id, world.b.project_id, {"h100": 400.0}, "small")
    with db.write() as s:
        applications.submit(s, a_admin, big)
        applications.submit(s, b_admin, small)
        made = {r.application_id: r for r in reviews.assign_round_robin(s, SYSTEM, setup.call_id)}
    with db.write() as s:
        for app_id, ex in ((big, 10), (small, 9)):
            r = made[app_id]
            reviews.submit_scores(s, reviewer(r.reviewer_id, "r"), r.id, scores={"excellence": ex, "feasibility": 5},
                                  comment="")
        programs.close_call(s, SYSTEM, setup.call_id)
        assert [a.id for a in reviews.auto_award(s, SYSTEM, setup.call_id)] == [big]
    with db.write() as s, pytest.raises(Conflict, match="call's remaining budget"):
        reviews.decide(s, SYSTEM, small, decision=rules.Decision.AWARD, reason="by hand")
    with db.write() as s:
        reviews.decide(s, SYSTEM, small, decision=rules.Decision.PARTIAL, reason="what is left",
                       awarded_su={"h100": 200.0})
        program = programs.get_program(s, SYSTEM, setup.program_id)
    assert program.remaining_su["h100"] == pytest.approx(3800.0)


def test_editing_a_withdrawn_application_voids_the_scores_given_to_the_old_text(db: Database, world: World) -> None:
    setup = make_program(db, reviewers=1)
    a_admin = principal(db, world.a.admin_token)
    app_id = draft(db, a_admin, setup.call_id, world.a.project_id, {"h100": 100.0})
    with db.write() as s:
        applications.submit(s, a_admin, app_id)
        (r,) = reviews.assign_round_robin(s, SYSTEM, setup.call_id)
    with db.write() as s:
        reviews.submit_scores(s, reviewer(r.reviewer_id, "r"), r.id, scores={"excellence": 5, "feasibility": 5},
                              comment="")
        applications.withdraw(s, a_admin, app_id)
    with db.write() as s:
        version = applications.get(s, a_admin, app_id).version
        applications.update(s, a_admin, app_id, version=version, changes={"plan": "a better plan"})
    with db.read() as s:
        a = applications.get(s, a_admin, app_id)
        (again,) = reviews.reviews_of(s, SYSTEM, app_id)
    assert a.state == "draft" and a.plan == "a better plan"
    assert again.state == "assigned" and again.total is None and again.scores is None


def test_program_budget_cannot_drop_below_what_agreements_hold(db: Database, world: World) -> None:
    call_id, app_id, _ = _through_review(db, world, {"h100": 1000.0})
    with db.write() as s:
        reviews.decide(s, SYSTEM, app_id, decision=rules.Decision.AWARD, reason="excellent")
        program = programs.get_program(s, SYSTEM, programs.get_call(s, SYSTEM, call_id).program_id).row
        pid, version = program.id, program.version
    with db.write() as s, pytest.raises(Conflict, match="more than the new budget on h100"):
        programs.update_program_budget(s, SYSTEM, pid, version=version, budget_su={"h100": 999.0, "a100": 10.0})
    with db.write() as s:
        view = programs.update_program_budget(s, SYSTEM, pid, version=version, budget_su={"h100": 1000.0})
    assert view.remaining_su == {"h100": 0.0}


def test_the_controller_runs_the_utilization_check_as_housekeeping(db: Database, world: World, tmp_path: Path) -> None:
    from aicc.config import Settings
    from aicc.controller.loop import Controller
    from aicc.executors.local import LocalExecutor
    from aicc.store.models import UtilizationCheckRow

    _, app_id, _ = _through_review(db, world, {"h100": 1000.0})
    with db.write() as s:
        reviews.decide(s, SYSTEM, app_id, decision=rules.Decision.AWARD, reason="excellent")
        g = s.execute(select(AgreementRow).where(AgreementRow.application_id == app_id)).scalar_one()
        agreements.accept(s, principal(db, world.a.admin_token), g.id)
    settings = Settings(home=tmp_path / "home", database_url=db.url, controller=False)
    controller = Controller(settings, db, LocalExecutor(settings.jobs_dir))
    controller.cycle(now=g.starts_at + dt.timedelta(days=40))
    controller.cycle(now=g.starts_at + dt.timedelta(days=41))  # not due again within the hour
    with db.read() as s:
        checks = list(s.execute(select(UtilizationCheckRow).where(UtilizationCheckRow.agreement_id == g.id)).scalars())
    assert [c.status for c in checks] == [rules.UtilizationStatus.WARNING.value]
