"""The proxy core against real servers: a uvicorn run on a Unix socket behind a uvicorn front server."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.proxy.harness import Servers, servers


def run(scenario: Callable[[Servers], Awaitable[None]], *, start_upstream: bool = True) -> None:
    async def main() -> None:
        async with servers(start_upstream=start_upstream) as s:
            await asyncio.wait_for(scenario(s), 30)
    asyncio.run(main())


def test_request_reaches_the_run_with_path_query_and_body_but_without_our_credentials() -> None:
    async def scenario(s: Servers) -> None:
        async with httpx.AsyncClient() as c:
            r = await c.put(s.base + "/p/echo?a=1&b=two", content=b"hello", headers={
                "Authorization": "Bearer aicc_secret", "Cookie": "aicc_session=tok; _xsrf=keep; aicc_presession=x",
                "Connection": "x-drop-me", "X-Drop-Me": "1", "X-Kept": "yes", "x-run-token": "forged"})
        assert r.status_code == 200
        seen = r.json()
        assert (seen["method"], seen["path"], seen["query"], seen["body"]) == ("PUT", "/echo", "a=1&b=two", "hello")
        h = seen["headers"]
        assert "authorization" not in h
        assert h["cookie"] == "_xsrf=keep"
        assert "x-drop-me" not in h and h["x-kept"] == "yes"
        assert h["x-run-token"] == "from-aicc"  # ours replaces the person's
    run(scenario)


def test_response_hop_by_hop_headers_and_planted_aicc_cookies_stay_behind() -> None:
    async def scenario(s: Servers) -> None:
        async with httpx.AsyncClient() as c:
            r = await c.get(s.base + "/p/echo")
        assert r.status_code == 200
        assert "x-private" not in r.headers
        cookies = r.headers.get_list("set-cookie")
        assert any(c.startswith("_xsrf=") for c in cookies)
        assert not any(c.startswith("aicc_session=") for c in cookies)
    run(scenario)


def test_large_chunked_upload_streams_intact() -> None:
    payload = os.urandom(8 * 1024 * 1024)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(payload), 256 * 1024):
            yield payload[i:i + 256 * 1024]

    async def scenario(s: Servers) -> None:
        async with httpx.AsyncClient(timeout=30) as c:
            r = await c.post(s.base + "/p/upload", content=chunks())
        assert r.json() == {"sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload),
                            "transfer_encoding": "chunked"}
    run(scenario)


def test_server_sent_events_arrive_before_the_stream_ends() -> None:
    async def scenario(s: Servers) -> None:
        async with httpx.AsyncClient(timeout=10) as c, c.stream("GET", s.base + "/p/sse") as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            it = r.aiter_raw()
            first = await asyncio.wait_for(it.__anext__(), 5)  # the run still holds the second event back
            assert first == b"data: one\n\n"
            s.seen.sse_release.set()
            assert await asyncio.wait_for(it.__anext__(), 5) == b"data: two\n\n"
    run(scenario)


def test_requests_reuse_one_kept_alive_connection_to_the_run() -> None:
    async def scenario(s: Servers) -> None:
        async with httpx.AsyncClient() as c:
            for _ in range(5):
                assert (await c.get(s.base + "/p/echo")).status_code == 200
        assert len(s.upstream.server_state.connections) == 1
        assert s.upstream.server_state.total_requests == 5
    run(scenario)


def test_run_not_listening_is_a_clean_503_problem() -> None:
    async def scenario(s: Servers) -> None:
        async with httpx.AsyncClient() as c:
            r = await c.get(s.base + "/p/echo")
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 503
    run(scenario, start_upstream=False)


def test_run_that_never_answers_is_a_502_after_the_timeout_not_a_hang() -> None:
    async def scenario(s: Servers) -> None:
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=10) as c:
            r = await c.get(s.base + "/p/slow", headers={"x-test-timeout": "0.5"})
        assert r.status_code == 502 and r.json()["title"] == "Bad gateway"
        assert time.monotonic() - started < 5
    run(scenario)


def test_websocket_carries_text_and_bytes_both_ways_with_subprotocol_and_without_our_cookie() -> None:
    async def scenario(s: Servers) -> None:
        async with connect(s.ws_base + "/p/ws?x=1", subprotocols=["v1.kernel.websocket.jupyter.org"],  # type: ignore[list-item]
                           additional_headers={"Cookie": "aicc_session=tok", "Authorization": "Bearer x"}) as ws:
            assert ws.subprotocol == "v1.kernel.websocket.jupyter.org"
            await ws.send("sum(range(10))")
            assert await ws.recv() == "echo:sum(range(10))"
            await ws.send(b"\x00\x01")
            assert await ws.recv() == b"echo:\x00\x01"
        h = s.seen.ws_headers
        assert "cookie" not in h and "authorization" not in h and h["x-run-token"] == "from-aicc"
    run(scenario)


def test_websocket_close_codes_pass_through_both_ways() -> None:
    async def scenario(s: Servers) -> None:
        async with connect(s.ws_base + "/p/ws") as ws:
            await ws.send("close-4001")
            with pytest.raises(ConnectionClosed):
                await ws.recv()
        assert ws.close_code == 4001 and ws.close_reason == "bye"

        async with connect(s.ws_base + "/p/ws") as ws:
            await ws.send("hi")
            await ws.recv()
            await ws.close(4002, "done")
        await asyncio.wait_for(s.seen.ws_closed.wait(), 5)
        assert s.seen.ws_close_codes == [4002]
    run(scenario)


def test_websocket_to_a_run_not_listening_is_refused_at_once() -> None:
    async def scenario(s: Servers) -> None:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(s.ws_base + "/p/ws", open_timeout=5):
                pass
        assert refused.value.response.status_code == 503
    run(scenario, start_upstream=False)
