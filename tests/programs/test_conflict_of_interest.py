"""Membership needs consent, and a reviewer who joins the applicant's organization after assignment cannot score.

The attack (issue 16): an org admin added an assigned reviewer to her own organization after assignment; the
reviewer then scored her application 100/100. Now the org admin can only invite, and even an accepted
invitation (or a direct add by a center admin, or a membership already ended again) blocks scoring.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.programs.test_api import API, _application, _program_and_call, _reviewers, ok, problem
from tests.world import World

H = World.auth
FULL = {"scores": {"excellence": 10, "feasibility": 5}, "comment": "perfect"}


def _assigned(c: TestClient, world: World) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    revs = _reviewers(c, world)
    _, call_id = _program_and_call(c, world)
    app = _application(c, world.a.admin_token, call_id, world.a.project_id, {"h100": 100})
    ok(c.post(f"{API}/applications/{app['id']}/submit", headers=H(world.a.admin_token)))
    review = ok(c.post(f"{API}/applications/{app['id']}/reviewers", headers=H(world.admin_token),
                       json={"username": "rev2"}), 201)
    return revs, app, review


def test_an_org_admin_cannot_add_an_assigned_reviewer_unasked(app_client: TestClient, world: World) -> None:
    c = app_client
    revs, _, review = _assigned(c, world)
    org_admin = H(world.a.admin_token)
    problem(c.post(f"{API}/organizations/{world.a.org_id}/members", headers=org_admin,
                   json={"username": "rev2", "role": "member"}), 422, "needs their consent")
    invitation = ok(c.post(f"{API}/organizations/{world.a.org_id}/invitations", headers=org_admin,
                           json={"username": "rev2", "role": "member"}), 201)
    assert invitation["state"] == "pending" and invitation["organization"] == world.a.org_name
    # not a member until they accept: scoring would still be allowed here, but the reviewer accepts...
    mine = ok(c.get(f"{API}/invitations", headers=H(revs["rev2"])))
    assert [i["id"] for i in mine] == [invitation["id"]]
    assert ok(c.post(f"{API}/invitations/{invitation['id']}/accept", headers=H(revs["rev2"])))["state"] == "accepted"
    # ...and then scores her new organization's application: refused
    problem(c.post(f"{API}/reviews/{review['id']}/scores", headers=H(revs["rev2"]), json=FULL), 409,
            "member of the applicant's organization")
    events = [e["action"] for e in ok(c.get(f"{API}/audit", headers=H(world.admin_token), params={"limit": 500}))]
    assert "org.member.invite" in events and "org.member.accept" in events and "review.submit" not in events


def test_membership_since_assignment_blocks_scoring_even_after_leaving_again(app_client: TestClient,
                                                                               world: World) -> None:
    c = app_client
    revs, _, review = _assigned(c, world)
    admin = H(world.admin_token)  # a center admin may add directly (audited as direct)
    member = ok(c.post(f"{API}/organizations/{world.a.org_id}/members", headers=admin,
                       json={"username": "rev2", "role": "member"}), 201)
    r = c.delete(f"{API}/organizations/{world.a.org_id}/members/{member['user_id']}", headers=admin)
    assert r.status_code == 204
    problem(c.post(f"{API}/reviews/{review['id']}/scores", headers=H(revs["rev2"]), json=FULL), 409,
            "have been since your assignment")
    sets = [e for e in ok(c.get(f"{API}/audit", headers=admin, params={"action": "org.member.set"}))
            if e["data"]["user"] == "rev2"]
    assert sets and sets[-1]["data"]["direct"] is True


def test_a_declined_or_withdrawn_invitation_changes_nothing_and_only_the_invitee_answers(
        app_client: TestClient, world: World) -> None:
    c = app_client
    revs, _, review = _assigned(c, world)
    org_admin = H(world.a.admin_token)
    first = ok(c.post(f"{API}/organizations/{world.a.org_id}/invitations", headers=org_admin,
                      json={"username": "rev2"}), 201)
    problem(c.post(f"{API}/invitations/{first['id']}/accept", headers=H(revs["rev3"])), 404, "not found")
    problem(c.post(f"{API}/invitations/{first['id']}/accept", headers=H(world.b.admin_token)), 404, "not found")
    assert ok(c.post(f"{API}/invitations/{first['id']}/decline", headers=H(revs["rev2"])))["state"] == "declined"
    problem(c.post(f"{API}/invitations/{first['id']}/accept", headers=H(revs["rev2"])), 409, "already declined")
    second = ok(c.post(f"{API}/organizations/{world.a.org_id}/invitations", headers=org_admin,
                       json={"username": "rev2"}), 201)
    assert c.delete(f"{API}/organizations/{world.a.org_id}/invitations/{second['id']}",
                    headers=org_admin).status_code == 204
    assert c.delete(f"{API}/organizations/{world.a.org_id}/invitations/{second['id']}",
                    headers=H(world.b.admin_token)).status_code == 404
    problem(c.post(f"{API}/invitations/{second['id']}/accept", headers=H(revs["rev2"])), 409, "already withdrawn")
    states = [i["state"] for i in ok(c.get(f"{API}/organizations/{world.a.org_id}/invitations", headers=org_admin))]
    assert states == ["withdrawn", "declined"]
    scored = ok(c.post(f"{API}/reviews/{review['id']}/scores", headers=H(revs["rev2"]), json=FULL))
    assert scored["state"] == "submitted"  # never a member: the review stands
    problem(c.post(f"{API}/organizations/{world.a.org_id}/invitations", headers=H(world.a.member_token),
                   json={"username": "rev3"}), 403, "")
