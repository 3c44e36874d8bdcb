"""The README's five-minute tour, run with the real `aicc` against a real server."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any, cast

from tests.cli.conftest import Cli


def test_demo_saved_admin_credentials_with_0600(cli: Cli) -> None:
    path = Path(cli.env["AICC_CONFIG_DIR"]) / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    me = cast(dict[str, Any], cli.json("whoami"))
    assert me["username"] == "admin" and me["center_role"] == "center_admin"


def test_login_checks_the_token_and_saves_it(cli: Cli, tmp_path: Path) -> None:
    env_dir = tmp_path / "cfg"
    bad = cli.run("login", "--url", cli.url, "--token", "aicc_000000000000_wrong", check=False)
    assert bad.returncode == 4 and "401" in bad.stderr
    saved = Cli({**cli.env, "AICC_CONFIG_DIR": str(env_dir)}, cli.url, cli.admin_token, cli.tokens)
    saved.env.pop("AICC_URL")
    out = saved.run("login", "--url", cli.url, stdin=cli.tokens["alice"] + "\n")
    assert "logged in" in out.stdout and "alice" in out.stdout
    assert stat.S_IMODE((env_dir / "credentials.json").stat().st_mode) == 0o600
    assert cast(dict[str, Any], saved.json("whoami"))["username"] == "alice"


def test_tour_org_project_member_allocation_token(cli: Cli) -> None:
    cli.run("admin", "orgs", "create", "seoul-bio", "--display-name", "서울바이오", "--kind", "startup",
            "--region", "서울특별시")
    orgs = cast(list[dict[str, Any]], cli.json("admin", "orgs", "list"))
    assert "seoul-bio" in [o["name"] for o in orgs]
    cli.run("admin", "users", "create", "minsu", "--display-name", "Minsu")
    cli.run("admin", "members", "add", "seoul-bio", "minsu", "--role", "org_admin")
    cli.run("admin", "projects", "create", "bio-llm", "--org", "seoul-bio", "--title", "Protein LLM")
    cli.run("admin", "projects", "add-member", "bio-llm", "minsu")
    alloc = cast(dict[str, Any], cli.json("admin", "allocations", "create", "bio-llm", "--budget", "5000",
                                         "--start", "2026-01-01", "--end", "2027-12-31", "--quota", "h100=8+4",
                                         "--quota", "cpu=32", "--storage-gib", "3"))
    assert alloc["state"] == "active" and alloc["quotas"]["h100"] == {"nominal": 8, "borrowing_limit": 4}
    assert alloc["storage_gib"] == 3
    amended = cast(dict[str, Any], cli.json("admin", "allocations", "amend", str(alloc["id"]), "--budget", "6000",
                                           "--suspend", "--storage-gib", "7"))
    assert amended["budget_su"] == 6000 and amended["state"] == "suspended" and amended["storage_gib"] == 7
    issued = cast(dict[str, Any], cli.json("token", "create", "--user", "minsu", "--name", "laptop"))
    minsu = issued["token"]
    mine = cast(list[dict[str, Any]], cli.json("admin", "projects", "list", token=minsu))
    assert [p["name"] for p in mine] == ["bio-llm"]
    # another tenant's project is simply not there for minsu
    other = cli.run("admin", "projects", "show", "haneul-llm", token=minsu, check=False)
    assert other.returncode == 4 and "not found" in other.stderr
    assert cli.json("token", "revoke", str(issued["id"])) == {"revoked": "token", "id": issued["id"]}
    denied = cli.run("whoami", token=minsu, check=False)
    assert denied.returncode == 4 and "401" in denied.stderr


def test_human_tables_and_clear_errors(cli: Cli, tmp_path: Path) -> None:
    table = cli.run("admin", "allocations", "list").stdout
    assert "haneul-llm" in table and "h100 8+8" in table
    bad = tmp_path / "center.toml"
    bad.write_text('[site]\nname = "x"\n\n[[flavors]]\nname = "h100"\nvendor = "nvidia"\nsu_rate = 0\n')
    proc = cli.run("admin", "inventory", "load", str(bad), check=False)
    assert proc.returncode == 4
    assert "center.toml:7: flavors[0].su_rate: must be greater than 0" in proc.stderr
    proc = cli.run("admin", "allocations", "create", "haneul-llm", "--budget", "-1", "--start", "2027-01-01",
                   "--end", "2026-01-01", check=False)
    assert proc.returncode == 4 and "error 422" in proc.stderr
    proc = cli.run("admin", "allocations", "create", "haneul-llm", "--budget", "1", "--start", "tomorrow",
                   "--end", "2026-01-01", check=False)
    assert "is not a date" in proc.stderr


def test_audit_verify_and_export(cli: Cli, tmp_path: Path) -> None:
    out = cli.run("admin", "audit", "verify").stdout
    assert "audit log intact" in out
    target = tmp_path / "audit.csv"
    cli.run("admin", "audit", "export", "--out", str(target))
    assert target.read_text().startswith("seq,at,actor,action")


def test_an_org_admin_invites_and_the_user_accepts_on_the_command_line(cli: Cli) -> None:
    alice, dana = cli.tokens["alice"], cli.tokens["dana"]
    refused = cli.run("admin", "members", "add", "haneul-ai", "dana", token=alice, check=False)
    assert refused.returncode == 4 and "needs their consent" in refused.stderr
    invited = cast(dict[str, Any], cli.json("admin", "members", "invite", "haneul-ai", "dana", token=alice))
    assert invited["state"] == "pending"
    mine = cast(list[dict[str, Any]], cli.json("invitations", "list", token=dana))
    assert [(i["id"], i["organization"]) for i in mine] == [(invited["id"], "haneul-ai")]
    cli.run("invitations", "accept", str(invited["id"]), token=dana)
    members = cast(list[dict[str, Any]], cli.json("admin", "members", "list", "haneul-ai", token=alice))
    assert "dana" in [m["username"] for m in members]
    answered = cast(list[dict[str, Any]], cli.json("admin", "members", "invitations", "haneul-ai", token=alice))
    assert answered[0]["state"] == "accepted"
