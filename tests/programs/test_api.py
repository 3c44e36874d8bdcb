"""The programs API end to end: each step over HTTP, the bad inputs as problem+json 4xx, and who sees what."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from aicc.store.db import Database
from aicc.store.models import AllocationRow, AuditEventRow, UsageRow, utcnow
from tests.programs.helpers import ledger
from tests.world import World

H = World.auth
API = "/api/v1"
RUBRIC = [{"name": "excellence", "weight": 2, "max_score": 10}, {"name": "feasibility", "weight": 1, "max_score": 5}]


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def problem(r: Any, status: int, words: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert words in r.json()["detail"], r.json()


def _reviewers(c: TestClient, world: World) -> dict[str, str]:
    """Two more reviewers with tokens (the world has one, "rev")."""
    out = {"rev": world.reviewer_token}
    for name in ("rev2", "rev3"):
        user = ok(c.post(f"{API}/users", headers=H(world.admin_token), json={
            "username": name, "display_name": name, "center_role": "reviewer"}), 201)
        out[name] = ok(c.post(f"{API}/tokens", headers=H(world.admin_token), json={
            "user_id": user["id"], "name": "t"}), 201)["token"]
    return out


def _program_and_call(c: TestClient, world: World, **call: Any) -> tuple[int, int]:
    h = H(world.admin_token)
    prog = ok(c.post(f"{API}/programs", headers=h, json={
        "name": "ai-2027", "title": "2027 AI 컴퓨팅 자원 지원사업", "budget_su": {"h100": 5000, "a100": 2000}}), 201)
    now = utcnow()
    body = {"name": "round-1", "title": "1차", "opens_at": (now - dt.timedelta(days=1)).isoformat(),
            "closes_at": (now + dt.timedelta(days=10)).isoformat(), "tracks": ["industry", "medical"],
            "cap_su": 2000, "rubric": RUBRIC, "reviewers_per_application": 2, "cost_share": 0.2,
            "su_price_krw": 500, "borrowing_ratio": 0.5} | call
    created = ok(c.post(f"{API}/programs/{prog['id']}/calls", headers=h, json=body), 201)
    return prog["id"], created["id"]


def _application(c: TestClient, token: str, call_id: int, project_id: int, su: dict[str, float]) -> dict[str, Any]:
    now = utcnow()
    return dict(ok(c.post(f"{API}/applications", headers=H(token), json={
        "call_id": call_id, "project_id": project_id, "track": "medical", "title": "의료 영상 LLM",
        "plan": "fine-tune on de-identified scans", "expected_outcomes": "a paper", "team": [{"name": "Lee"}],
        "requested_su": su, "requested_accelerators": {"h100": 2}, "starts_at": now.isoformat(),
        "ends_at": (now + dt.timedelta(days=90)).isoformat()}), 201))


def test_journey_over_http_and_the_report_equals_the_ledger(app_client: TestClient, world: World, db: Database,
                                                           settings: Any) -> None:
    c = app_client
    revs = _reviewers(c, world)
    program_id, call_id = _program_and_call(c, world)
    app = _application(c, world.a.admin_token, call_id, world.a.project_id, {"h100": 1500})
    pdf = ok(c.post(f"{API}/applications/{app['id']}/attachments", headers=H(world.a.admin_token),
                    files={"file": ("../../etc/passwd.pdf", b"%PDF-1.7 plan", "application/pdf")}), 201)
    stored = list((settings.home / "attachments").iterdir())
    assert len(stored) == 1 and stored[0].suffix == ".pdf" and "passwd" not in stored[0].name
    assert pdf["filename"] == "....etcpasswd.pdf"
    assert ok(c.post(f"{API}/applications/{app['id']}/submit", headers=H(world.a.admin_token)))["state"] == "submitted"
    # frozen once submitted
    problem(c.patch(f"{API}/applications/{app['id']}", headers=H(world.a.admin_token),
                    json={"version": 2, "title": "changed"}), 409, "cannot edit")
    assigned = ok(c.post(f"{API}/calls/{call_id}/assign-reviewers", headers=H(world.admin_token)))
    assert len(assigned) == 2
    mine = {name: ok(c.get(f"{API}/reviews", headers=H(tok))) for name, tok in revs.items()}
    who = [name for name, rows in mine.items() if rows]
    assert len(who) == 2
    first, second = who
    rid1, rid2 = mine[first][0]["id"], mine[second][0]["id"]
    ok(c.post(f"{API}/reviews/{rid1}/scores", headers=H(revs[first]),
              json={"scores": {"excellence": 8, "feasibility": 5}, "comment": "solid"}))
    # blind: the second reviewer sees only their own assignment until they score
    seen = ok(c.get(f"{API}/applications/{app['id']}/reviews", headers=H(revs[second])))
    assert [r["id"] for r in seen] == [rid2]
    ok(c.post(f"{API}/reviews/{rid2}/scores", headers=H(revs[second]),
              json={"scores": {"excellence": 6, "feasibility": 4}, "comment": "ok"}))
    seen = ok(c.get(f"{API}/applications/{app['id']}/reviews", headers=H(revs[second])))
    assert {r["id"] for r in seen} == {rid1, rid2}
    assert [r["reviewer"] for r in seen if r["id"] == rid1] == [None]
    # the applicant sees nothing before the decision
    assert ok(c.get(f"{API}/applications/{app['id']}/reviews", headers=H(world.a.admin_token))) == []
    ok(c.post(f"{API}/calls/{call_id}/close", headers=H(world.admin_token)))
    ranking = ok(c.get(f"{API}/calls/{call_id}/ranking", headers=H(world.admin_token)))
    assert ranking[0]["application_id"] == app["id"] and ranking[0]["reviews"] == 2
    assert ranking[0]["spread"] == pytest.approx(200 * 0.8 / 3 - 200 * 0.6 / 3 + (100 - 80) / 3, abs=1e-4)
    decided = ok(c.post(f"{API}/applications/{app['id']}/decision", headers=H(world.admin_token),
                        json={"decision": "award", "reason": "clear plan, strong team"}))
    assert decided["state"] == "awarded"
    # after the decision: the applicant reads the reason and the scores, never the reviewers' names
    assert ok(c.get(f"{API}/applications/{app['id']}", headers=H(world.a.admin_token)))["decision_reason"] == (
        "clear plan, strong team")
    shown = ok(c.get(f"{API}/applications/{app['id']}/reviews", headers=H(world.a.admin_token)))
    assert len(shown) == 2 and all(r["reviewer"] is None and r["label"].startswith("reviewer ") for r in shown)
    agreement = ok(c.get(f"{API}/agreements", headers=H(world.a.admin_token)))["items"][0]
    assert agreement["state"] == "offered" and agreement["allocation_id"] is None
    with db.read() as s:
        allocations_before = s.execute(select(func.count()).select_from(AllocationRow)).scalar_one()
    # a plain member cannot accept for the organization
    problem(c.post(f"{API}/agreements/{agreement['id']}/accept", headers=H(world.a.member_token)), 403,
            "organization admin")
    accepted = ok(c.post(f"{API}/agreements/{agreement['id']}/accept", headers=H(world.a.admin_token)))
    alloc = ok(c.get(f"{API}/allocations/{accepted['allocation_id']}", headers=H(world.a.admin_token)))
    assert alloc["project_id"] == world.a.project_id and alloc["budget_su"] == 1500
    assert alloc["quotas"]["h100"] == {"nominal": 2, "borrowing_limit": 1} and alloc["state"] == "active"
    problem(c.post(f"{API}/agreements/{agreement['id']}/accept", headers=H(world.a.admin_token)), 409,
            "already accepted")
    with db.read() as s:
        assert s.execute(select(func.count()).select_from(AllocationRow)).scalar_one() == allocations_before + 1
    now = utcnow()
    ledger(db, accepted["allocation_id"], world.a.project_id,
           [(now - dt.timedelta(hours=5), 3.141592653), (now - dt.timedelta(hours=2), 10.000001),
            (now - dt.timedelta(minutes=30), 0.333333333)])
    ok(c.post(f"{API}/agreements/{agreement['id']}/outcomes", headers=H(world.a.member_token),
              json={"publications": 2, "patents": 1, "follow_on_funding_krw": 5e8}), 201)
    rep = ok(c.get(f"{API}/programs/{program_id}/report", headers=H(world.admin_token)))
    with db.read() as s:
        direct = s.execute(select(func.sum(UsageRow.su)).where(
            UsageRow.allocation_id == accepted["allocation_id"])).scalar_one()
    org_row = rep["sections"]["su_by_organization"]["rows"][0]
    assert org_row[0] == "org-a" and org_row[4] == round(direct, 6)
    assert rep["sections"]["outcomes"]["rows"] == [["org-a", 1, 2, 0, 1, 0, 5e8]]
    csv_text = c.get(f"{API}/programs/{program_id}/report.csv", headers=H(world.admin_token),
                     params={"section": "settlement"}).text
    header, row = csv_text.splitlines()[:2]
    assert header.split(",")[6] == "used_su" and float(row.split(",")[6]) == round(direct, 6)
    # cost share 20 % of the used SU at 500 KRW
    assert float(row.split(",")[10]) == pytest.approx(round(direct * 0.2 * 500, 2))
    x = c.get(f"{API}/programs/{program_id}/report.xlsx", headers=H(world.admin_token))
    assert x.status_code == 200
    wb = load_workbook(io.BytesIO(x.content))
    assert wb["settlement"]["G2"].value == round(direct, 6) and "by_track" in wb.sheetnames
    # reports are the center's: an applicant gets 403
    problem(c.get(f"{API}/programs/{program_id}/report", headers=H(world.a.admin_token)), 403, "center admin")


def test_bad_inputs_are_clear_4xx_and_write_nothing(app_client: TestClient, world: World, db: Database) -> None:
    c = app_client
    revs = _reviewers(c, world)
    _, call_id = _program_and_call(c, world, eligible_kinds=["startup"])
    h_a, h_b = H(world.a.admin_token), H(world.b.admin_token)
    with db.read() as s:
        events_before = s.execute(select(func.count()).select_from(AuditEventRow)).scalar_one()
    # over the per-award cap
    r = c.post(f"{API}/applications", headers=h_a, json={
        "call_id": call_id, "project_id": world.a.project_id, "track": "medical", "title": "x",
        "requested_su": {"h100": 2500}, "starts_at": utcnow().isoformat(),
        "ends_at": (utcnow() + dt.timedelta(days=9)).isoformat()})
    problem(r, 422, "over the call's per-award cap of 2000")
    # a track the call does not have; a flavor the program does not fund
    r = c.post(f"{API}/applications", headers=h_a, json={
        "call_id": call_id, "project_id": world.a.project_id, "track": "academia", "title": "x",
        "requested_su": {"h100": 10}, "starts_at": utcnow().isoformat(),
        "ends_at": (utcnow() + dt.timedelta(days=9)).isoformat()})
    problem(r, 422, "not one of this call's tracks")
    with db.read() as s:
        assert s.execute(select(func.count()).select_from(AuditEventRow)).scalar_one() == events_before
    # eligibility: org-b is a hospital, the call takes startups — the reason says so at submit
    app_b = _application(c, world.b.admin_token, call_id, world.b.project_id, {"h100": 100})
    problem(c.post(f"{API}/applications/{app_b['id']}/submit", headers=h_b), 422,
            "not eligible: this call is open to startup organizations; yours is a hospital")
    assert ok(c.get(f"{API}/applications/{app_b['id']}", headers=h_b))["state"] == "draft"
    # a bad attachment: wrong type, content that lies about its type
    problem(c.post(f"{API}/applications/{app_b['id']}/attachments", headers=h_b,
                   files={"file": ("x.exe", b"MZ\x90", "application/x-msdownload")}), 422, "attachments may be")
    problem(c.post(f"{API}/applications/{app_b['id']}/attachments", headers=h_b,
                   files={"file": ("x.pdf", b"MZ\x90", "application/pdf")}), 422, "not application/pdf")
    app = _application(c, world.a.admin_token, call_id, world.a.project_id, {"h100": 100})
    ok(c.post(f"{API}/applications/{app['id']}/submit", headers=h_a))
    # withdrawal and resubmission before the close date
    assert ok(c.post(f"{API}/applications/{app['id']}/withdraw", headers=h_a))["state"] == "withdrawn"
    assert ok(c.post(f"{API}/applications/{app['id']}/submit", headers=h_a))["state"] == "submitted"
    # reviewing one's own organization
    ok(c.post(f"{API}/organizations/{world.a.org_id}/members", headers=H(world.admin_token),
              json={"username": "rev2", "role": "member"}), 201)
    problem(c.post(f"{API}/applications/{app['id']}/reviewers", headers=H(world.admin_token),
                   json={"username": "rev2"}), 422, "applicant's organization")
    assigned = ok(c.post(f"{API}/applications/{app['id']}/reviewers", headers=H(world.admin_token),
                         json={"username": "rev3"}), 201)
    # scoring outside the rubric's range, and naming criteria the rubric lacks
    problem(c.post(f"{API}/reviews/{assigned['id']}/scores", headers=H(revs["rev3"]),
                   json={"scores": {"excellence": 11, "feasibility": 3}}), 422, "between 0 and 10")
    problem(c.post(f"{API}/reviews/{assigned['id']}/scores", headers=H(revs["rev3"]),
                   json={"scores": {"excellence": 5}}), 422, "missing feasibility")
    assert ok(c.get(f"{API}/reviews", headers=H(revs["rev3"])))[0]["state"] == "assigned"
    # another reviewer cannot score someone else's assignment
    problem(c.post(f"{API}/reviews/{assigned['id']}/scores", headers=H(revs["rev"]),
                   json={"scores": {"excellence": 5, "feasibility": 3}}), 404, "not found")
    # deciding before the close date
    problem(c.post(f"{API}/applications/{app['id']}/decision", headers=H(world.admin_token),
                   json={"decision": "reject", "reason": "no"}), 409, "decisions come after the close date")
    ok(c.post(f"{API}/calls/{call_id}/close", headers=H(world.admin_token)))
    # submitting after the close date
    problem(c.post(f"{API}/applications/{app_b['id']}/submit", headers=h_b), 409, "after the close date")
    # a partial award that gives more than was asked
    problem(c.post(f"{API}/applications/{app['id']}/decision", headers=H(world.admin_token),
                   json={"decision": "partial", "reason": "r", "awarded_su": {"h100": 200}}), 422, "cannot exceed")
    ok(c.post(f"{API}/applications/{app['id']}/decision", headers=H(world.admin_token),
              json={"decision": "award", "reason": "fine"}))
    g = ok(c.get(f"{API}/agreements", headers=h_a))["items"][0]
    g = ok(c.post(f"{API}/agreements/{g['id']}/accept", headers=h_a))
    problem(c.post(f"{API}/agreements/{g['id']}/accept", headers=h_a), 409, "already accepted")
    problem(c.post(f"{API}/agreements/{g['id']}/decline", headers=h_a), 409, "already accepted")
    # reducing (reclaiming) more than is unused
    problem(c.post(f"{API}/agreements/{g['id']}/amendments", headers=H(world.admin_token),
                   json={"kind": "reduction", "delta_su": {"h100": 100.5}, "reason": "r"}), 422, "below zero")
    ledger(db, g["allocation_id"], world.a.project_id, [(utcnow() - dt.timedelta(hours=1), 40.0)])
    problem(c.post(f"{API}/agreements/{g['id']}/amendments", headers=H(world.admin_token),
                   json={"kind": "reduction", "delta_su": {"h100": 61}, "reason": "r"}), 422,
            "only 60 SU of the allocation are unused")
    assert ok(c.get(f"{API}/allocations/{g['allocation_id']}", headers=h_a))["budget_su"] == 100
    # schema-level nonsense is a 422 too, never a 500
    r = c.post(f"{API}/applications", headers=h_a, json={"call_id": call_id, "requested_su": {"h100": -1}})
    assert r.status_code == 422


def test_visibility_applicants_and_reviewers_see_only_their_own(app_client: TestClient, world: World) -> None:
    c = app_client
    revs = _reviewers(c, world)
    _, call_id = _program_and_call(c, world, reviewers_per_application=1)
    app_a = _application(c, world.a.admin_token, call_id, world.a.project_id, {"h100": 100})
    app_b = _application(c, world.b.admin_token, call_id, world.b.project_id, {"h100": 100})
    for app, tok in ((app_a, world.a.admin_token), (app_b, world.b.admin_token)):
        ok(c.post(f"{API}/applications/{app['id']}/submit", headers=H(tok)))
    # another organization's application does not exist for you
    problem(c.get(f"{API}/applications/{app_b['id']}", headers=H(world.a.admin_token)), 404, "not found")
    listed = ok(c.get(f"{API}/applications", headers=H(world.a.admin_token)))["items"]
    assert [a["id"] for a in listed] == [app_a["id"]]
    assert ok(c.get(f"{API}/applications", headers=H(world.outsider_token)))["items"] == []
    # a project member reads their project's application but may not submit or withdraw it
    assert ok(c.get(f"{API}/applications/{app_a['id']}", headers=H(world.a.member_token)))["id"] == app_a["id"]
    problem(c.post(f"{API}/applications/{app_a['id']}/withdraw", headers=H(world.a.member_token)), 403,
            "organization admin")
    # only center admins assign, rank and decide
    problem(c.post(f"{API}/calls/{call_id}/assign-reviewers", headers=H(world.a.admin_token)), 403, "center admin")
    problem(c.get(f"{API}/calls/{call_id}/ranking", headers=H(revs["rev"])), 403, "center admin")
    ok(c.post(f"{API}/applications/{app_a['id']}/reviewers", headers=H(world.admin_token), json={"username": "rev"}),
       201)
    # the reviewer sees what is assigned, nothing else
    listed = ok(c.get(f"{API}/applications", headers=H(revs["rev"])))["items"]
    assert [a["id"] for a in listed] == [app_a["id"]]
    problem(c.get(f"{API}/applications/{app_b['id']}", headers=H(revs["rev"])), 404, "not found")
    problem(c.get(f"{API}/applications/{app_a['id']}", headers=H(revs["rev2"])), 404, "not found")
    # the admin's view names the reviewer; the applicant's list of reviews is empty before a decision
    assert ok(c.get(f"{API}/applications/{app_a['id']}/reviews", headers=H(world.admin_token)))[0]["reviewer"] == "rev"
    assert ok(c.get(f"{API}/applications/{app_a['id']}/reviews", headers=H(world.a.admin_token))) == []
    # nor does the organization's audit trail name the reviewer
    events = ok(c.get(f"{API}/audit", headers=H(world.a.admin_token), params={"limit": 500}))
    assert events and all(e["actor"] != "rev" and "rev" not in str(e["data"].get("reviewer", "")) for e in events)
    assert not [e for e in events if e["action"].startswith("review.")]
    # a non-reviewer has no review assignments to list
    problem(c.get(f"{API}/reviews", headers=H(world.a.admin_token)), 403, "reviewers")
