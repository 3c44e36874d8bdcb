"""What newcomers type: job names in their own language, flavor names in capitals, GPU requests without a
flavor; the newest jobs first; the API's documentation without the internet."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from aicc.core.errors import InvalidInput
from aicc.core.names import check_job_name
from aicc.services.jobs import default_flavors
from aicc.store.models import FlavorRow
from tests.world import World

H = World.auth


def submit(client: TestClient, token: str, **body: Any) -> Any:
    body.setdefault("project", "proj-a")
    body.setdefault("command", ["python", "-c", "print(1)"])
    return client.post("/api/v1/jobs", headers=H(token), json=body)


@pytest.mark.parametrize("name", ["학습-1차", "데이터 전처리", "données_été", "训练.sh", "a[1]+b"])
def test_job_names_in_any_language_are_accepted_as_typed(app_client: TestClient, world: World, name: str) -> None:
    r = submit(app_client, world.a.member_token, name=name)
    assert r.status_code == 201, r.text
    job = app_client.get(f"/api/v1/jobs/{r.json()['id']}", headers=H(world.a.member_token)).json()
    assert job["name"] == name


@pytest.mark.parametrize("name", ["a/b", "..", "x;rm -rf ~", "$(id)", "`id`", "tab\tname", "nl\nname", "a\\b",
                                  "bell\x07", "c1\x85"])
def test_job_names_that_break_paths_or_shells_are_refused(app_client: TestClient, world: World, name: str) -> None:
    r = submit(app_client, world.a.member_token, name=name)
    assert r.status_code == 422, r.text


def test_the_services_refuse_the_same_names_as_the_api() -> None:
    assert check_job_name(" 학습 ") == "학습"
    for bad in ("a/b", ".", "..", "x|y", "\x00", ""):
        with pytest.raises(InvalidInput, match="letters of any language are fine"):
            check_job_name(bad)


def test_flavor_names_are_case_insensitive_and_unknown_ones_are_named(app_client: TestClient, world: World) -> None:
    r = submit(app_client, world.a.member_token, accelerators=1, flavors=["H100"])
    assert r.status_code == 201, r.text
    job = app_client.get(f"/api/v1/jobs/{r.json()['id']}", headers=H(world.a.member_token)).json()
    assert job["flavors"] == ["h100"]
    r = submit(app_client, world.a.member_token, accelerators=1, flavors=["H200"])
    assert r.status_code == 422 and "unknown flavor h200" in r.json()["detail"]


def _capacity(*flavors: tuple[str, str]) -> dict[str, tuple[FlavorRow, list[Any]]]:
    return {name: (FlavorRow(name=name, vendor=vendor), []) for name, vendor in flavors}


def test_a_gpu_request_without_a_flavor_means_the_centers_gpus_not_its_npus() -> None:
    center = _capacity(("h100", "nvidia"), ("rbln-atom", "rebellions"), ("cpu", "cpu"))
    assert default_flavors(center, [], 1) == ["h100"]
    assert default_flavors(center, [], 0) == ["cpu"]
    assert default_flavors(center, ["any"], 1) == ["h100", "rbln-atom"]  # the user accepts any accelerator
    assert default_flavors(center, ["RBLN-ATOM"], 1) == ["rbln-atom"]
    npu_only = _capacity(("rbln-atom", "rebellions"), ("cpu", "cpu"))
    assert default_flavors(npu_only, [], 1) == ["rbln-atom"]  # a center without GPUs: its accelerators


def test_job_lists_come_newest_first_in_pages(app_client: TestClient, world: World) -> None:
    ids = [submit(app_client, world.a.member_token).json()["id"] for _ in range(5)]
    first = app_client.get("/api/v1/jobs", headers=H(world.a.member_token),
                           params={"order": "desc", "limit": 3}).json()
    assert [j["id"] for j in first["items"]] == ids[::-1][:3] and first["next_cursor"]
    rest = app_client.get("/api/v1/jobs", headers=H(world.a.member_token),
                          params={"order": "desc", "limit": 3, "cursor": first["next_cursor"]}).json()
    assert [j["id"] for j in rest["items"]] == ids[::-1][3:] and rest["next_cursor"] is None


def test_api_docs_load_their_assets_from_this_server(app_client: TestClient) -> None:
    page = app_client.get("/api/v1/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text and "https://" not in page.text.replace("https://fastapi", "")
    assert "/api/v1/docs/assets/swagger-ui-bundle.js" in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        r = app_client.get(f"/api/v1/docs/assets/{asset}")
        assert r.status_code == 200 and len(r.content) > 10_000
