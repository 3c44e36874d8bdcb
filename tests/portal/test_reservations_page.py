"""The center admin's class reservations page: reserve, see the clash named (in Korean too), remove."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from aicc.store.db import Database
from aicc.store.models import AuditEventRow, ReservationRow
from tests.portal.conftest import csrf_of
from tests.world import World

Portal = Callable[[str | None], TestClient]
FORM = {"flavor": "h100", "first_start": "2027-03-02T14:00", "timezone": "Asia/Seoul", "length_min": "180",
        "count": "8", "every_days": "7"}


def test_an_admin_reserves_class_hours_sees_a_clash_named_and_removes_them(portal: Portal, db: Database,
                                                                           pworld: World) -> None:
    admin = portal("root")
    page = admin.get("/reservations")
    assert page.status_code == 200 and "수업 시간 예약" in page.text  # Korean by default
    csrf = csrf_of(page.text)
    made = admin.post("/reservations", data={**FORM, "csrf": csrf, "name": "ai-101-lab", "units": "6",
                                             "owner": f"project:{pworld.a.project_id}"}, follow_redirects=False)
    assert made.status_code == 303
    listed = admin.get(made.headers["location"])
    assert "ai-101-lab" in listed.text and "Asia/Seoul" in listed.text
    clash = admin.post("/reservations", data={**FORM, "csrf": csrf, "name": "ml-202", "units": "4",
                                              "owner": f"project:{pworld.b.project_id}"})
    assert clash.status_code == 409
    assert "ai-101-lab" in clash.text and "겹칩니다" in clash.text  # the clash named, in the page's language
    bad = admin.post("/reservations", data={**FORM, "csrf": csrf, "name": "x", "units": "two", "owner": "project:1"})
    assert bad.status_code == 422
    with db.read() as s:
        rid = s.query(ReservationRow).filter_by(name="ai-101-lab").one().id
    assert admin.post(f"/reservations/{rid}/remove", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    with db.read() as s:
        assert s.query(ReservationRow).count() == 0
        actions = [a for (a,) in s.query(AuditEventRow.action).filter(AuditEventRow.action.like("reservation.%"))]
    assert actions == ["reservation.create", "reservation.delete"]


def test_only_center_admins_see_the_page(portal: Portal, pworld: World) -> None:
    member = portal("a-admin")
    assert member.get("/reservations").status_code in (403, 404)
