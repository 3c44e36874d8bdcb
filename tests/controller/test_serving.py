"""Services end to end: real replicas of a real model behind the gateway, with keys, health and recovery."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from aicc.store.db import Database
from tests.controller.serving_live import SERVER, Live, live_center


@pytest.fixture
def live(db: Database) -> Iterator[Live]:
    with live_center(db) as center:
        yield center


def test_the_model_answers_through_the_gateway_as_it_does_directly(live: Live) -> None:
    w = live.world
    svc = live.create(w.a.member_token, name="ocr", replicas=2)
    key = live.key(w.a.member_token, svc["id"])
    live.ready(svc["id"], 2)
    lines = ["ABDEF", "hello", "Tm4Q7"]
    r = live.gateway("/svc/proj-a/ocr/v1/recognize", key, method="POST", json={"lines": lines})
    assert r.status_code == 200, r.text
    from aicc.testbed.serve import Recognizer

    assert r.json()["text"] == Recognizer().recognize(lines)  # the same model called directly, in this process
    # server-sent events pass through unbuffered: the first event arrives while the server is still sending
    with httpx.stream(
            "GET", live.url + "/svc/proj-a/ocr/v1/stream?n=8",
            headers={"Authorization": f"Bearer {key}"}, timeout=30) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        arrivals = []
        for chunk in stream.iter_text():
            for part in chunk.split("\n\n"):
                if part.startswith("data: "):
                    arrivals.append((time.time(), json.loads(part[6:])["t"]))
    assert len(arrivals) == 8
    assert arrivals[0][0] < arrivals[-1][1], "the first event came only after the last was sent: buffered"
    metrics = live.gateway("/metrics", None).text
    assert 'aicc_service_requests_total{service="proj-a/ocr",status="200"}' in metrics
    assert 'aicc_service_request_seconds_count{service="proj-a/ocr"}' in metrics
    kinds = [e["kind"] for e in live.events(svc["id"])]
    assert kinds.count("replica_submitted") == 2 and kinds.count("replica_ready") == 2


def test_keys_no_key_401_revoked_within_a_second_other_org_404_rate_limited_429(live: Live) -> None:
    w = live.world
    cmd = [*SERVER, "--no-model"]
    a = live.create(w.a.member_token, name="echo", command=cmd)
    b = live.create(w.b.member_token, project="proj-b", name="echo", command=cmd)
    key_a = live.key(w.a.member_token, a["id"])
    key_b = live.key(w.b.member_token, b["id"])
    slow = live.key(w.a.member_token, a["id"], rate_per_s=1, burst=2)
    live.ready(a["id"], 1)
    assert live.gateway("/svc/proj-a/echo/v1/version", key_a).status_code == 200
    assert live.gateway("/svc/proj-a/echo/v1/version", None).status_code == 401
    assert live.gateway("/svc/proj-a/echo/v1/version", "aicc_svc_nope_nope").status_code == 401
    other = live.gateway("/svc/proj-a/echo/v1/version", key_b)  # another organization's key
    assert other.status_code == 404 and other.headers["content-type"] == "application/problem+json"
    assert live.gateway("/svc/proj-a/nothing/v1/version", key_a).status_code == 404
    codes = [live.gateway("/svc/proj-a/echo/v1/version", slow).status_code for _ in range(4)]
    assert codes[:2] == [200, 200] and 429 in codes[2:]
    key_id = live.api("GET", f"/services/{a['id']}/keys", w.a.member_token).json()[0]["id"]
    live.api("DELETE", f"/services/{a['id']}/keys/{key_id}", w.a.member_token)
    revoked = time.monotonic()
    while live.gateway("/svc/proj-a/echo/v1/version", key_a).status_code != 401:
        assert time.monotonic() - revoked < 1.0, "a revoked key was still let in after a second"
        time.sleep(0.02)
