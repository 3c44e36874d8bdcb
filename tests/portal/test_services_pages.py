"""The services pages: create, roll out, roll back, scale, stop and start, keys (shown once) and events, in
Korean, through the same services layer as the API; other tenants see none of it."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from aicc.config import Settings
from aicc.services.principal import Principal
from aicc.services.serving import catalog
from aicc.services.serving import keys as key_svc
from aicc.store.db import Database
from tests.portal.conftest import csrf_of
from tests.world import World

Portal = Callable[[str | None], TestClient]
SERVER = "python3 -m aicc.testbed.serve --port 8000"


def _create(client: TestClient, pworld: World, **over: str) -> tuple[int, TestClient]:
    page = client.get("/services")
    form = {"csrf": csrf_of(page.text), "project_id": str(pworld.a.project_id), "name": "ocr", "image": "",
            "command": SERVER, "port": "8000", "health": "/health", "replicas": "2", "min_replicas": "1",
            "max_replicas": "4", "flavor": "cpu", "gpus": "0", **over}
    r = client.post("/services", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    m = re.match(r"/services/(\d+)\?done=created", r.headers["location"])
    assert m
    return int(m.group(1)), client


def test_a_member_sees_the_service_its_address_and_events_and_another_tenant_sees_nothing(
        db: Database, settings: Settings, pworld: World, portal: Portal) -> None:
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


def test_the_create_form_makes_the_service_the_api_would(db: Database, pworld: World, portal: Portal) -> None:
    sid, client = _create(portal("a-member"), pworld)
    detail = client.get(f"/services/{sid}?done=created")
    assert "서비스를 만들었습니다" in detail.text and "/svc/proj-a/ocr/" in detail.text
    with db.read() as s:
        row = catalog.get(s, Principal(pworld.a.member_id, "a-member", projects=frozenset({pworld.a.project_id})),
                          sid)
        rev = catalog.revision(s, row)
        assert (row.replicas, row.min_replicas, row.max_replicas) == (2, 1, 4)
        assert list(rev.command) == SERVER.split() and rev.port == 8000 and rev.flavors == ["cpu"]


def test_bad_create_input_is_refused_on_the_page_with_nothing_written(db: Database, pworld: World,
                                                                      portal: Portal) -> None:
    client = portal("a-member")
    csrf = csrf_of(client.get("/services").text)
    base = {"csrf": csrf, "project_id": str(pworld.a.project_id), "name": "ocr", "command": SERVER, "port": "8000",
            "health": "/health", "replicas": "1", "flavor": "cpu", "gpus": "0"}
    for bad, status in (({"name": "Not_A_Label"}, 422), ({"port": "eighty"}, 422), ({"command": ""}, 422),
                        ({"command": "python3 'unclosed"}, 422), ({"health": "no-slash"}, 422),
                        ({"replicas": "99"}, 422)):
        r = client.post("/services", data={**base, **bad}, follow_redirects=False)
        assert r.status_code == status, (bad, r.status_code)
        assert 'role="alert"' in r.text and "Traceback" not in r.text
    assert client.post("/services", data={**base, "csrf": "forged"}, follow_redirects=False).status_code == 403
    with db.read() as s:
        assert catalog.list_services(s, Principal(pworld.a.member_id, "a-member",
                                                  projects=frozenset({pworld.a.project_id}))) == []
    # a project of another organization: refused, nothing made there either
    other = client.post("/services", data={**base, "project_id": str(pworld.b.project_id)}, follow_redirects=False)
    assert other.status_code in (403, 404, 422) and "Traceback" not in other.text


def test_roll_out_roll_back_scale_stop_and_start_from_the_service_page(db: Database, settings: Settings,
                                                                       pworld: World, portal: Portal) -> None:
    sid, client = _create(portal("a-member"), pworld)

    def post(path: str, **data: str) -> str:
        csrf = csrf_of(client.get(f"/services/{sid}").text)
        r = client.post(f"/services/{sid}/{path}", data={"csrf": csrf, **data}, follow_redirects=False)
        assert r.status_code == 303, r.text
        return client.get(r.headers["location"]).text

    member = Principal(pworld.a.member_id, "a-member", projects=frozenset({pworld.a.project_id}))
    csrf = csrf_of(client.get(f"/services/{sid}").text)
    refused = client.post(f"/services/{sid}/image", data={"csrf": csrf, "image": "registry.local:5000/ocr:2"})
    assert refused.status_code == 422 and "no registry is allowed" in refused.text  # this center runs no images
    app_state = client.app.state  # type: ignore[attr-defined]
    app_state.settings = dataclasses.replace(settings, registries="registry.local:5000")
    assert "복제본이 하나씩 차례로" in post("image", image="registry.local:5000/ocr:2")
    with db.read() as s:
        row = catalog.get(s, member, sid)
        assert row.revision == 2 and catalog.revision(s, row).image_ref == "registry.local:5000/ocr:2"
    assert "이전 리비전으로" in post("rollback")
    with db.read() as s:
        assert catalog.get(s, member, sid).revision == 1
    post("scale", replicas="3", min_replicas="1", max_replicas="5")
    with db.read() as s:
        row = catalog.get(s, member, sid)
        assert (row.replicas, row.min_replicas, row.max_replicas) == (3, 1, 5)
    stopped = post("stop")
    assert "서비스를 멈췄습니다" in stopped and f'action="/services/{sid}/start"' in stopped
    with db.read() as s:
        assert catalog.get(s, member, sid).state == "stopped"
    post("start")
    with db.read() as s:
        assert catalog.get(s, member, sid).state == "active"
    with db.read() as s:
        kinds = [e.kind for e in catalog.events(s, member, sid)]
    assert {"updated", "rolled_back", "scaled", "stopped"} <= set(kinds)
    # another organization's member cannot change it
    other = portal("b-member")
    csrf = csrf_of(other.get("/services").text)
    assert other.post(f"/services/{sid}/stop", data={"csrf": csrf}, follow_redirects=False).status_code == 404


def test_a_key_is_shown_once_works_as_a_key_and_is_revoked_from_the_page(db: Database, pworld: World,
                                                                         portal: Portal) -> None:
    sid, client = _create(portal("a-member"), pworld)
    csrf = csrf_of(client.get(f"/services/{sid}").text)
    made = client.post(f"/services/{sid}/keys", data={"csrf": csrf, "name": "demo", "rate_per_s": "20"})
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    secret = re.search(r"<code>(aicc_svc_[^<]+)</code>", made.text)
    assert secret, "the new key is not on the page"
    with db.read() as s:
        grant = key_svc.check(s, secret.group(1))
        assert grant is not None and grant.service_id == sid and grant.rate_per_s == 20
    again = client.get(f"/services/{sid}").text
    assert secret.group(1) not in again and "demo" in again  # listed by name, never shown again
    key_id = re.search(r'id="key-(\d+)"', again)
    assert key_id
    r = client.post(f"/services/{sid}/keys/{key_id.group(1)}/revoke", data={"csrf": csrf_of(again)},
                    follow_redirects=False)
    assert r.status_code == 303
    with db.read() as s:
        assert key_svc.check(s, secret.group(1)) is None
    bad = client.post(f"/services/{sid}/keys", data={"csrf": csrf_of(again), "name": "x", "rate_per_s": "lots"})
    assert bad.status_code == 422 and 'role="alert"' in bad.text
