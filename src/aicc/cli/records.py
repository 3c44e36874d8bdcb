"""`aicc token …`, `aicc admin inventory …` and `aicc audit …`: API tokens, the center's inventory and the
tamper-evident audit log — records an operator loads, lists, verifies and exports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from aicc.cli.client import Client, CliError
from aicc.cli.lookup import user_by
from aicc.cli.output import done, emit

inventory_app = typer.Typer(help="The center's sites, flavors and nodes.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
token_app = typer.Typer(help="Your API tokens.", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
TOKEN_COLS = ("id", "name", "user_id", "public_id", "expires_at", "revoked_at")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="What it is for.")] = "cli",
    user: Annotated[str | None, typer.Option(help="Issue for this user (center admins).")] = None,
    days: Annotated[int | None, typer.Option(help="Lifetime in days.")] = None,
    as_json: JSON = False,
) -> None:
    """Create an API token; the secret is printed once."""
    c = Client()
    body: dict[str, Any] = {"name": name, "ttl_days": days}
    if user:
        body["user_id"] = user_by(c, user)["id"]
    issued = c.post("/tokens", body)
    if as_json:
        emit(issued, as_json=True)
    else:
        print(f"token {issued['id']} for user {issued['user_id']}, expires {issued['expires_at']}")
        print(f"secret (shown only now): {issued['token']}")


@token_app.command("list")
def token_list(user: Annotated[str | None, typer.Option()] = None, as_json: JSON = False) -> None:
    c = Client()
    uid = user_by(c, user)["id"] if user else None
    emit(c.get("/tokens", user_id=uid), as_json=as_json, columns=TOKEN_COLS)


@token_app.command("revoke")
def token_revoke(token_id: int, as_json: JSON = False) -> None:
    Client().delete(f"/tokens/{token_id}")
    done(f"token {token_id} revoked", {"revoked": "token", "id": token_id}, as_json=as_json)


@inventory_app.command("load")
def inventory_load(path: Path, as_json: JSON = False) -> None:
    """Load (or reload) the inventory from a TOML file; all or nothing."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from exc
    emit(Client().post("/inventory", {"toml": text, "source": path.name}), as_json=as_json)


@inventory_app.command("show")
def inventory_show(as_json: JSON = False) -> None:
    c = Client()
    flavors = c.get("/flavors")
    nodes = c.get("/nodes")
    if as_json:
        emit({"flavors": flavors, "nodes": nodes}, as_json=True)
        return
    emit(flavors, as_json=False, columns=("name", "vendor", "memory_gb", "device_env", "su_rate"), title="Flavors")
    emit(nodes, as_json=False, columns=("name", "flavor", "accelerators", "cpus", "memory_gb"), title="Nodes")


@audit_app.command("list")
def audit_list(
    action: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option()] = 50,
    as_json: JSON = False,
) -> None:
    emit(Client().get("/audit", action=action, limit=limit), as_json=as_json,
         columns=("seq", "at", "actor", "action", "target_type", "target_id"))


@audit_app.command("verify")
def audit_verify(as_json: JSON = False) -> None:
    """Check every event's MAC with the key and the head against the anchors; exit 1 naming the first divergence."""
    result = Client(timeout=600).get("/audit/verify")
    if as_json:
        emit(result, as_json=True)
    elif result["intact"]:
        print(f"audit log intact: {result['events']} events, MAC chain verified against {result['anchors']} "
              "anchor(s)")
    else:
        first = result["problems"][0]
        print(f"first divergence at event {first['seq']}: {first['problem']}")
        for p in result["problems"][1:]:
            print(f"event {p['seq']}: {p['problem']}")
        if result.get("more_problems"):
            print(f"... and {result['more_problems']} more problems")
    if not result["intact"]:
        raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Option(help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    action: Annotated[str | None, typer.Option(help="Only events of this action, e.g. output.download.")] = None,
) -> None:
    """The events you may see (custodians: their organization's), for an inspector or an archive."""
    c = Client()
    if fmt == "csv" and action is None:
        out.write_text(c.request("GET", "/audit/export.csv"), encoding="utf-8")
    elif fmt in ("csv", "json"):
        events: list[dict[str, Any]] = []
        after = None
        while True:
            batch = c.get("/audit", limit=500, after=after, action=action)
            events += batch
            if len(batch) < 500:
                break
            after = batch[-1]["seq"]
        if fmt == "json":
            out.write_text(json.dumps(events, ensure_ascii=False, indent=1), encoding="utf-8")
        else:
            import csv
            import io

            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=list(events[0]) if events else ["seq"])
            w.writeheader()
            w.writerows({k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v for k, v in e.items()}
                        for e in events)
            out.write_text(buf.getvalue(), encoding="utf-8")
    else:
        raise CliError("--format must be csv or json")
    print(f"audit log written to {out}")
