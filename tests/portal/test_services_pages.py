"""The services pages: a project's services with their replicas and events, in Korean; other tenants see none."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from aicc.config import Settings
from aicc.services.principal import Principal
from aicc.services.serving import catalog
from aicc.store.db import Database
from tests.world import World


def test_a_member_sees_the_service_its_address_and_events_and_another_tenant_sees_nothing(
        db: Database, settings: Settings, pworld: World, portal: Callable[[str | None], TestClient]) -> None:
    with db.write() as s:
        member = Principal(pworld.a.member_id, "a-member", projects=frozenset({pworld.a.project_id}))
        svc = catalog.create(s, member, settings, catalog.ServiceSpec(
            project_id=pworld.a.project_id, name="ocr", replicas=2, min_replicas=1, max_replicas=4,
            revision=catalog.RevisionSpec(command=["python3", "-m", "aicc.testbed.serve"], flavors=["cpu"])))
        sid = svc.id
    page = portal("a-member").get("/services")
    assert page.status_code == 200 and "서비스" in page.text
    assert f'href="/services/{sid}"' in page.text and "/svc/proj-a/ocr/" in page.text and "0 / 2" in page.text
    detail = portal("a-member").get(f"/services/{sid}").text
    assert "2개 유지 (최소 1, 최대 4)" in detail and "python3 -m aicc.testbed.serve" in detail
    assert "created with 2 replica(s) of revision 1" in detail
    assert "/svc/proj-a/ocr/" not in portal("b-member").get("/services").text
    assert portal("b-member").get(f"/services/{sid}").status_code == 404
