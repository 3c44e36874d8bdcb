"""`aicc session`: start, list, show and stop an interactive session against a live server."""

from __future__ import annotations

import time
from typing import Any, cast

from tests.cli.conftest import Cli


def test_start_list_stop_a_session_and_a_stranger_sees_nothing(cli: Cli) -> None:
    bob, alice = cli.tokens["bob"], cli.tokens["alice"]
    started = cast(dict[str, Any], cli.json("session", "start", "--kind", "terminal", "--time", "30m",
                                            "--project", "haneul-llm", "--no-wait", token=bob))
    sid = started["id"]
    assert started["kind"] == "terminal" and started["phase"] in ("pending", "starting", "ready")
    assert "token" not in started and (started["url"] is None or started["url"].endswith(f"/s/{sid}/lab/terminals/1"))
    listed = cast(list[dict[str, Any]], cli.json("session", "list", token=bob))
    assert [s["id"] for s in listed] == [sid]
    assert cli.json("session", "list", token=alice) == []
    stranger = cli.run("session", "show", str(sid), token=alice, check=False)
    assert stranger.returncode != 0 and "404" in stranger.stderr + stranger.stdout
    wrong = cli.run("session", "start", "--kind", "vnc", token=bob, check=False)
    assert wrong.returncode != 0 and "jupyter or terminal" in wrong.stderr + wrong.stdout
    assert f"Stopping session {sid}" in cli.run("session", "stop", str(sid), token=bob).stdout
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # a run outlives the server by design: end it before the test does
        shown = cast(dict[str, Any], cli.json("session", "show", str(sid), token=bob))
        if shown["phase"] == "ended":
            break
        time.sleep(0.5)
    assert shown["phase"] == "ended" and shown["state"] == "cancelled"


def test_an_admin_reserves_class_hours_lists_them_and_removes_them(cli: Cli) -> None:
    made = cast(dict[str, Any], cli.json("reservation", "create", "llm-lab", "--flavor", "h100", "--units", "8",
                                         "--project", "haneul-llm", "--first", "2027-03-02T14:00", "--length", "3h",
                                         "--weeks", "8", "--tz", "Asia/Seoul", token=cli.admin_token))
    assert made["starts_at"].startswith("2027-03-02T05:00") and made["count"] == 8
    clash = cli.run("reservation", "create", "other-lab", "--flavor", "h100", "--units", "12", "--project",
                    "haneul-llm", "--first", "2027-03-09T16:00", "--length", "1h", token=cli.admin_token, check=False)
    assert clash.returncode != 0 and "llm-lab" in clash.stderr + clash.stdout
    listed = cast(list[dict[str, Any]], cli.json("reservation", "ls", token=cli.tokens["bob"]))
    assert [r["name"] for r in listed] == ["llm-lab"]
    other = cast(dict[str, Any], cli.json("reservation", "create", "gpu-lab", "--flavor", "h100", "--units", "1",
                                          "--project", "haneul-llm", "--first", "2027-04-06T14:00", "--length",
                                          "1h", token=cli.admin_token))
    assert "Removed reservation llm-lab" in cli.run("reservation", "rm", "llm-lab", token=cli.admin_token).stdout
    assert cli.json("reservation", "rm", "gpu-lab", token=cli.admin_token) == {
        "removed": "reservation", "id": other["id"], "name": "gpu-lab"}
    assert cli.json("reservation", "ls", token=cli.admin_token) == []
