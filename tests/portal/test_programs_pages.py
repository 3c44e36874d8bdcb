"""Support programs on the portal: apply, edit, submit, review blind, rank, decide, accept, report."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from aicc.core import programs as rules
from aicc.services import agreements, programs, reviews
from aicc.services.principal import SYSTEM
from aicc.store.db import Database
from aicc.store.models import AgreementRow, ApplicationRow, ReclaimRow, UserRow, utcnow
from tests.portal.conftest import PASSWORD, csrf_of, set_passwords
from tests.programs.helpers import draft, make_program, principal
from tests.world import World

Portal = Callable[[str | None], TestClient]


@pytest.fixture
def setup(db: Database, pworld: World) -> dict[str, int]:
    made = make_program(db)
    set_passwords(db, PASSWORD)  # rev2, rev3
    return {"program": made.program_id, "call": made.call_id}


def _app_form(csrf: str, **over: str) -> dict[str, str]:
    today = dt.date.today()
    form = {"csrf": csrf, "title": "Korean legal LLM", "track": "industry", "starts_at": today.isoformat(),
            "ends_at": (today + dt.timedelta(days=60)).isoformat(), "su_h100": "800", "acc_h100": "2",
            "plan": "fine-tune a 7B model", "expected_outcomes": "a model", "team": "Kim, PI\nLee, engineer"}
    return form | over


def _new_application(c: TestClient, call_id: int, project_id: int) -> int:
    page = c.get(f"/calls/{call_id}")
    assert page.status_code == 200 and "이 공고에 신청" in page.text
    r = c.post(f"/calls/{call_id}/applications", data=_app_form(csrf_of(page.text), project_id=str(project_id)),
               follow_redirects=False)
    assert r.status_code == 303, r.text
    m = re.match(r"/applications/(\d+)\?done=created", r.headers["location"])
    assert m
    return int(m.group(1))


def _close_and_score(db: Database, call_id: int, app_id: int, scores: list[dict[str, float]]) -> None:
    with db.write() as s:
        made = reviews.assign_round_robin(s, SYSTEM, call_id)
        for r, sc in zip(made, scores, strict=False):
            user = s.get(UserRow, r.reviewer_id)
            assert user is not None
            from aicc.services import tokens
            reviews.submit_scores(s, tokens.principal_for(s, user), r.id, scores=sc, comment="ok")
        programs.close_call(s, SYSTEM, call_id)


def test_org_admin_drafts_edits_submits_and_withdraws(portal: Portal, pworld: World, setup: dict[str, int],
                                                      db: Database) -> None:
    c = portal("a-admin")
    hub = c.get("/programs")
    assert hub.status_code == 200 and "1차 공모" in hub.text
    app_id = _new_application(c, setup["call"], pworld.a.project_id)
    page = c.get(f"/applications/{app_id}?done=created")
    assert "임시 저장했습니다" in page.text and "Korean legal LLM" in page.text and "Lee" in page.text
    # edit: over the call's cap of 2000 SU is refused with the reason, in Korean
    r = c.post(f"/applications/{app_id}", data=_app_form(csrf_of(page.text), version="1", su_h100="2500"))
    assert r.status_code == 422 and "변경하지 않았습니다" in r.text and "2000" in r.text
    r = c.post(f"/applications/{app_id}", data=_app_form(csrf_of(page.text), version="1", title="Legal LLM v2"),
               follow_redirects=False)
    assert r.status_code == 303
    # a stale form (old version) is refused, not silently merged
    r = c.post(f"/applications/{app_id}", data=_app_form(csrf_of(page.text), version="1"))
    assert r.status_code == 409
    r = c.post(f"/applications/{app_id}/submit", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    page = c.get(r.headers["location"])
    assert "과제를 제출했습니다" in page.text and "Legal LLM v2" in page.text and 'action="/applications/' \
        f'{app_id}/withdraw"' in page.text
    r = c.post(f"/applications/{app_id}/withdraw", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    with db.read() as s:
        row = s.get(ApplicationRow, app_id)
        assert row is not None and row.state == "withdrawn"
    # a member of the project sees it, but cannot change it
    m = portal("a-member")
    assert "Legal LLM v2" in m.get(f"/applications/{app_id}").text
    r = m.post(f"/applications/{app_id}/submit", data={"csrf": csrf_of(m.get("/").text)})
    assert r.status_code == 403


def test_reviewer_scores_blind_with_range_checks_and_conflict(portal: Portal, pworld: World,
                                                              setup: dict[str, int], db: Database) -> None:
    a_admin = principal(db, pworld.a.admin_token)
    app_id = draft(db, a_admin, setup["call"], pworld.a.project_id, {"h100": 500.0})
    with db.write() as s:
        from aicc.services import applications
        applications.submit(s, a_admin, app_id)
        made = reviews.assign_round_robin(s, SYSTEM, setup["call"])
        ids = {s.get(UserRow, r.reviewer_id).username: r.id for r in made}  # type: ignore[union-attr]
    one, two = sorted(ids)  # the two reviewers the round-robin chose
    r2, r3 = portal(one), portal(two)
    ids = {"rev2": ids[one], "rev3": ids[two]}
    listing = r2.get("/reviews")
    assert listing.status_code == 200 and "Korean medical LLM" in listing.text
    page = r2.get(f"/reviews/{ids['rev2']}")
    assert 'max="10.0"' in page.text and 'max="5.0"' in page.text  # the rubric's ranges, checked in the browser too
    csrf = csrf_of(page.text)
    r = r2.post(f"/reviews/{ids['rev2']}/scores", data={"csrf": csrf, "score_excellence": "11",
                                                        "score_feasibility": "4"})
    assert r.status_code == 422 and "0" in r.text and "10" in r.text  # and on the server
    assert 'value="11"' in r.text  # what was typed comes back
    assert r2.post(f"/reviews/{ids['rev2']}/scores", data={"csrf": csrf, "score_excellence": "9",
                                                           "score_feasibility": "4", "comment": "strong"},
                   follow_redirects=False).status_code == 303
    # rev3 has not scored: blind to rev2's scores and comment
    page3 = r3.get(f"/reviews/{ids['rev3']}")
    assert "strong" not in page3.text and "86.7" not in page3.text
    # rev2's own page shows its total; others' (none yet) without names
    assert "86.7" in r2.get(f"/reviews/{ids['rev2']}").text
    # a reviewer cannot open another reviewer's assignment
    assert r3.get(f"/reviews/{ids['rev2']}").status_code == 404
    # conflict of interest: the application leaves the reviewer's view
    r = r3.post(f"/reviews/{ids['rev3']}/conflict", data={"csrf": csrf_of(page3.text), "reason": "former employer"},
                follow_redirects=False)
    assert r.status_code == 303
    assert "이해충돌 신고를 기록했습니다" in r3.get(r.headers["location"]).text
    assert r3.get(f"/applications/{app_id}").status_code == 404
    assert "Korean medical LLM" not in r3.get("/reviews").text
    # the applicant sees no scores before the decision
    assert "strong" not in portal("a-admin").get(f"/applications/{app_id}").text


def test_center_admin_ranks_decides_and_the_org_accepts_and_reports(portal: Portal, pworld: World,
                                                                    setup: dict[str, int], db: Database) -> None:
    admin_a = portal("a-admin")
    app_id = _new_application(admin_a, setup["call"], pworld.a.project_id)
    admin_a.post(f"/applications/{app_id}/submit", data={"csrf": csrf_of(admin_a.get("/").text)})
    _close_and_score(db, setup["call"], app_id, [{"excellence": 9, "feasibility": 4},
                                                  {"excellence": 5, "feasibility": 2}])
    root = portal("root")
    page = root.get(f"/calls/{setup['call']}")
    assert "순위" in page.text and "Korean legal LLM" in page.text
    assert "66.7" in page.text and ">40<" in page.text  # totals 86.67 and 46.67: mean 66.7, spread 40
    r = root.post(f"/applications/{app_id}/decision", data={"csrf": csrf_of(page.text), "decision": "partial",
                                                            "award_h100": "900", "reason": "x",
                                                            "back": f"/calls/{setup['call']}"})
    assert r.status_code == 422  # more than was asked
    r = root.post(f"/applications/{app_id}/decision", data={"csrf": csrf_of(page.text), "decision": "award",
                                                            "reason": "", "back": f"/calls/{setup['call']}"})
    assert r.status_code == 422 and "사유" in r.text
    r = root.post(f"/applications/{app_id}/decision", data={"csrf": csrf_of(page.text), "decision": "partial",
                                                            "award_h100": "600", "reason": "strong but over-asked",
                                                            "back": f"/calls/{setup['call']}"},
                  follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith(f"/calls/{setup['call']}")
    page = admin_a.get(f"/applications/{app_id}")
    assert "strong but over-asked" in page.text and "부분 선정" in page.text
    assert "평가위원 1" in page.text and "rev2" not in page.text  # scores after the decision, never names
    assert "협약 수락" in page.text
    # a member may not accept; the admin does, and the allocation exists
    member = portal("a-member")
    with db.read() as s:
        deal = s.execute(select(AgreementRow).where(AgreementRow.application_id == app_id)).scalar_one()
    assert member.post(f"/agreements/{deal.id}/accept", data={"csrf": csrf_of(member.get("/").text)}
                       ).status_code == 403
    r = admin_a.post(f"/agreements/{deal.id}/accept", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    page = admin_a.get(r.headers["location"])
    assert "프로젝트에 자원이 배정되었습니다" in page.text and "성과 보고하기" in page.text
    assert "논문 (제목, 게재처)" in page.text  # the outcome report's template
    with db.read() as s:
        deal = s.execute(select(AgreementRow).where(AgreementRow.application_id == app_id)).scalar_one()
        assert deal.state == "accepted" and deal.allocation_id is not None
    assert "round-1: Korean legal LLM" in member.get("/").text  # the budget is on the member's dashboard
    # any project member reports outcomes
    r = member.post(f"/agreements/{deal.id}/outcomes", data={"csrf": csrf_of(member.get("/").text),
                                                             "publications": "2", "patents": "1", "hires": "0",
                                                             "products": "1", "funding": "50000000",
                                                             "note": "paper at ACL"}, follow_redirects=False)
    assert r.status_code == 303
    assert "paper at ACL" in admin_a.get(f"/applications/{app_id}").text
    # reports: CSV and XLSX from the portal, for center admins only
    csv = root.get(f"/programs/{setup['program']}/report.csv?section=outcomes")
    assert csv.status_code == 200 and "publications" in csv.text and "org-a,1,2,1,1,0" in csv.text
    xlsx = root.get(f"/programs/{setup['program']}/report.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert admin_a.get(f"/programs/{setup['program']}/report.csv").status_code == 403
    prog = root.get(f"/programs/{setup['program']}")
    assert f'/programs/{setup["program"]}/report.xlsx' in prog.text


def test_center_admin_creates_a_call_and_decides_reclaims(portal: Portal, pworld: World, setup: dict[str, int],
                                                          db: Database) -> None:
    root = portal("root")
    page = root.get(f"/programs/{setup['program']}")
    assert "새 공고" in page.text
    form = {"csrf": csrf_of(page.text), "name": "round-2", "title": "2차 공모", "opens_at": "2026-01-01T09:00",
            "closes_at": "2026-02-01T18:00", "tracks": ["industry", "academia"], "kinds": ["startup"],
            "regions": "광주광역시", "cap_su": "1000", "rubric": "impact; 1; 10", "reviewers": "2",
            "threshold": "", "cost_share": "0.2", "price": "", "borrowing": "0"}
    bad = root.post(f"/programs/{setup['program']}/calls", data=form | {"rubric": "impact; one; 10"})
    assert bad.status_code == 422 and 'value="2차 공모"' in bad.text
    r = root.post(f"/programs/{setup['program']}/calls", data=form, follow_redirects=False)
    assert r.status_code == 303
    call = root.get(r.headers["location"])
    assert "2차 공모" in call.text and "공고를 만들었습니다" in call.text and "impact" in call.text
    assert "2026년 1월 1일 오전 9:00" in call.text  # typed in the center's time zone, shown back the same
    assert portal("a-admin").post(f"/programs/{setup['program']}/calls", data=form).status_code == 403

    # a reclaim proposal, as the monthly check would make it
    a_admin = principal(db, pworld.a.admin_token)
    app_id = draft(db, a_admin, setup["call"], pworld.a.project_id, {"h100": 1000.0})
    with db.write() as s:
        from aicc.services import applications
        applications.submit(s, a_admin, app_id)
        programs.close_call(s, SYSTEM, setup["call"])
        reviews.decide(s, SYSTEM, app_id, decision=rules.Decision.AWARD, reason="fine")
        deal = s.execute(select(AgreementRow).where(AgreementRow.application_id == app_id)).scalar_one()
        agreements.accept(s, a_admin, deal.id)
        deal.starts_at = utcnow() - dt.timedelta(days=50)
        rc = ReclaimRow(agreement_id=deal.id, amount_su=100.0, state="proposed", reason="used 0 of 500 SU planned")
        s.add(rc)
        s.flush()
        rc_id = rc.id
    assert "결정할 제안 1건" in root.get("/programs").text
    page = root.get("/reclaims")
    assert "used 0 of 500 SU planned" in page.text
    assert portal("a-admin").get("/reclaims").status_code == 403
    r = root.post(f"/reclaims/{rc_id}/decision", data={"csrf": csrf_of(page.text), "approve": "yes", "amount": ""},
                  follow_redirects=False)
    assert r.status_code == 303
    with db.read() as s:
        row = s.get(ReclaimRow, rc_id)
        assert row is not None and row.state == "approved"
        deal = s.get(AgreementRow, deal.id)
        assert deal is not None and deal.current_su["h100"] == pytest.approx(900.0)


@pytest.mark.parametrize("username", ["b-admin", "b-member", "nobody", "rev"])
def test_other_organizations_applications_are_not_found(portal: Portal, pworld: World, setup: dict[str, int],
                                                        db: Database, username: str) -> None:
    a_admin = principal(db, pworld.a.admin_token)
    app_id = draft(db, a_admin, setup["call"], pworld.a.project_id, {"h100": 500.0}, title="secret-a-app")
    with db.write() as s:
        from aicc.services import applications
        applications.submit(s, a_admin, app_id)
        programs.close_call(s, SYSTEM, setup["call"])
        reviews.decide(s, SYSTEM, app_id, decision=rules.Decision.AWARD, reason="fine")
        deal_id = s.execute(select(AgreementRow.id).where(AgreementRow.application_id == app_id)).scalar_one()
        rc = ReclaimRow(agreement_id=deal_id, amount_su=1.0, state="proposed", reason="r")
        s.add(rc)
        s.flush()
        rc_id = rc.id
    c = portal(username)
    csrf = csrf_of(c.get("/").text)
    assert c.get(f"/applications/{app_id}").status_code == 404
    for path in [f"/applications/{app_id}/submit", f"/applications/{app_id}/withdraw",
                 f"/agreements/{deal_id}/accept", f"/agreements/{deal_id}/decline", f"/agreements/{deal_id}/outcomes"]:
        r = c.post(path, data={"csrf": csrf})
        assert r.status_code == 404, path
        assert "secret-a-app" not in r.text
    r = c.post(f"/applications/{app_id}", data=_app_form(csrf, version="1"))
    assert r.status_code == 404
    for path in ["/programs", "/reviews" if username == "rev" else "/programs"]:
        page = c.get(path)
        assert page.status_code == 200 and "secret-a-app" not in page.text
    assert c.post(f"/reclaims/{rc_id}/decision", data={"csrf": csrf, "approve": "yes"}).status_code == 403
    assert c.get(f"/programs/{setup['program']}/report.xlsx").status_code == 403
    # and a project of another organization cannot be applied for
    r = c.post(f"/calls/{setup['call']}/applications", data=_app_form(csrf, project_id=str(pworld.a.project_id)))
    assert r.status_code in (404, 409) and "proj-a" not in r.text


def test_forms_need_the_csrf_token(portal: Portal, pworld: World, setup: dict[str, int]) -> None:
    c = portal("a-admin")
    r = c.post(f"/calls/{setup['call']}/applications", data=_app_form("forged", project_id=str(pworld.a.project_id)))
    assert r.status_code == 403 and "양식이 만료되었습니다" in r.text
    assert portal("root").post(f"/calls/{setup['call']}/close", data={}).status_code == 403


def test_reviewer_pages_are_for_reviewers(portal: Portal, setup: dict[str, int]) -> None:
    assert portal("a-member").get("/reviews").status_code == 403
    assert portal("rev").get("/reviews").status_code == 200


def test_center_admin_creates_a_program(portal: Portal, pworld: World) -> None:
    root = portal("root")
    hub = root.get("/programs")
    assert "새 지원사업" in hub.text and 'name="su_h100"' in hub.text
    form = {"csrf": csrf_of(hub.text), "name": "ai-2028", "title": "2028 지원사업", "description": "",
            "su_h100": "0", "su_a100": ""}
    r = root.post("/programs", data=form)
    assert r.status_code == 422 and 'value="2028 지원사업"' in r.text  # a budget of nothing is refused
    r = root.post("/programs", data=form | {"su_h100": "3000"}, follow_redirects=False)
    assert r.status_code == 303
    page = root.get(r.headers["location"])
    assert "2028 지원사업" in page.text and "h100 3,000" in page.text and "지원사업을 만들었습니다" in page.text
    admin = portal("a-admin")
    assert "새 지원사업" not in admin.get("/programs").text
    assert admin.post("/programs", data=form | {"csrf": csrf_of(admin.get("/").text), "su_h100": "1"}
                      ).status_code == 403


def test_drafts_take_attachments_that_only_visible_people_download(portal: Portal, pworld: World,
                                                                   setup: dict[str, int]) -> None:
    c = portal("a-admin")
    app_id = _new_application(c, setup["call"], pworld.a.project_id)
    csrf = csrf_of(c.get(f"/applications/{app_id}").text)
    r = c.post(f"/applications/{app_id}/attachments", data={"csrf": csrf},
               files={"file": ("plan.pdf", b"MZ not a pdf", "application/pdf")})
    assert r.status_code == 422 and "application/pdf" in r.text  # the content is checked, not just the name
    r = c.post(f"/applications/{app_id}/attachments", data={"csrf": csrf},
               files={"file": ("plan.pdf", b"%PDF-1.4 plan", "application/pdf")}, follow_redirects=False)
    assert r.status_code == 303
    page = c.get(r.headers["location"])
    assert "파일을 첨부했습니다" in page.text and "plan.pdf" in page.text
    link = re.search(rf'href="(/applications/{app_id}/attachments/\d+)"', page.text)
    assert link
    got = portal("a-member").get(link.group(1))
    assert got.status_code == 200 and got.content == b"%PDF-1.4 plan"
    other = portal("b-admin")
    assert other.get(link.group(1)).status_code == 404
    r = other.post(f"/applications/{app_id}/attachments", data={"csrf": csrf_of(other.get("/").text)},
                   files={"file": ("x.txt", b"x", "text/plain")})
    assert r.status_code == 404
    r = other.post(f"/applications/{app_id}/attachments", data={"csrf": csrf},
                   files={"file": ("x.txt", b"x", "text/plain")})
    assert r.status_code == 403  # another session's CSRF token is refused before anything else


def test_storage_is_asked_for_in_the_application_and_partly_awarded_in_the_portal(
        portal: Portal, pworld: World, setup: dict[str, int], db: Database) -> None:
    admin_a = portal("a-admin")
    page = admin_a.get(f"/calls/{setup['call']}")
    assert 'name="requested_storage_gib"' in page.text and "작업 공간 저장소 (GiB)" in page.text
    bad = admin_a.post(f"/calls/{setup['call']}/applications",
                       data=_app_form(csrf_of(page.text), project_id=str(pworld.a.project_id),
                                      requested_storage_gib="1.5"))
    assert bad.status_code == 422 and "1.5" in bad.text  # a whole number of GiB, said so; nothing written
    with db.read() as s:
        assert s.execute(select(ApplicationRow).where(ApplicationRow.title == "Korean legal LLM")).first() is None
    r = admin_a.post(f"/calls/{setup['call']}/applications",
                     data=_app_form(csrf_of(page.text), project_id=str(pworld.a.project_id),
                                    requested_storage_gib="500"), follow_redirects=False)
    assert r.status_code == 303, r.text
    app_id = int(r.headers["location"].split("/")[2].split("?")[0])
    page = admin_a.get(f"/applications/{app_id}")
    assert "500 GiB" in page.text and 'value="500"' in page.text  # shown, and kept in the edit form
    admin_a.post(f"/applications/{app_id}/submit", data={"csrf": csrf_of(page.text)})
    _close_and_score(db, setup["call"], app_id, [{"excellence": 9, "feasibility": 4}])
    root = portal("root")
    page = root.get(f"/calls/{setup['call']}")
    assert 'name="partial_storage_gib"' in page.text and 'max="500"' in page.text
    over = root.post(f"/applications/{app_id}/decision", data={
        "csrf": csrf_of(page.text), "decision": "partial", "award_h100": "600", "partial_storage_gib": "800",
        "reason": "x"})
    assert over.status_code == 422  # more storage than was asked
    r = root.post(f"/applications/{app_id}/decision", data={
        "csrf": csrf_of(page.text), "decision": "partial", "award_h100": "600", "partial_storage_gib": "200",
        "reason": "storage is scarce"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    with db.read() as s:
        deal = s.execute(select(AgreementRow).where(AgreementRow.application_id == app_id)).scalar_one()
        assert (deal.awarded_storage_gib, dict(deal.awarded_su)) == (200, {"h100": 600.0})
    page = admin_a.get(f"/applications/{app_id}")
    assert "지원 200 GiB" in page.text
