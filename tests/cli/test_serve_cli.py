"""`aicc serve`: create, list, show, update, rollback, scale, keys, events, delete against a real server."""

from __future__ import annotations

from typing import Any, cast

from tests.cli.conftest import Cli


def test_a_service_through_its_whole_life_on_the_command_line(cli: Cli) -> None:
    bob = cli.tokens["bob"]
    out = cli.run("serve", "create", "ocr", "--project", "haneul-llm", "--command", "python3 -m aicc.testbed.serve",
                  "--port", "8000", "--health", "/health", "--replicas", "0", "--min", "0", "--max", "4",
                  "--flavor", "cpu", token=bob).stdout
    assert "Created service ocr at /svc/haneul-llm/ocr/ (0 replica(s))" in out
    listed = cast(list[dict[str, Any]], cli.json("serve", "list", token=bob))
    assert [s["name"] for s in listed] == ["ocr"]
    shown = cast(dict[str, Any], cli.json("serve", "show", "ocr", token=bob))
    assert shown["current"]["command"] == ["python3", "-m", "aicc.testbed.serve"] and shown["revision"] == 1
    assert "Rolling ocr to revision 2" in cli.run("serve", "update", "ocr", "--env", "MODEL_VERSION=2",
                                                   token=bob).stdout
    assert "back to revision 1" in cli.run("serve", "rollback", "ocr", token=bob).stdout
    assert "ocr: 0 replica(s) (min 0, max 2)" in cli.run("serve", "scale", "ocr", "--max", "2", token=bob).stdout
    key = cli.run("serve", "keys", "create", "ocr", "--name", "customer", "--rate", "5", token=bob).stdout.strip()
    assert key.startswith("aicc_svc_")
    keys = cast(list[dict[str, Any]], cli.json("serve", "keys", "list", "ocr", token=bob))
    assert keys[0]["name"] == "customer" and "key" not in keys[0]
    assert f"Revoked key {keys[0]['id']}" in cli.run("serve", "keys", "revoke", "ocr", str(keys[0]["id"]),
                                                     token=bob).stdout
    kinds = [e["kind"] for e in cast(list[dict[str, Any]], cli.json("serve", "events", "ocr", token=bob))]
    assert kinds == ["created", "updated", "rolled_back", "scaled", "key_created", "key_revoked"]
    bad = cli.run("serve", "create", "Bad_Name", "--project", "haneul-llm", "--command", "true", token=bob,
                  check=False)
    assert bad.returncode != 0 and "DNS label" in bad.stderr + bad.stdout
    assert "Deleted service ocr" in cli.run("serve", "delete", "ocr", token=bob).stdout
    missing = cli.run("serve", "show", "ocr", token=bob, check=False)
    assert missing.returncode != 0 and "no service named ocr" in missing.stderr + missing.stdout
