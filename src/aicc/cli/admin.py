"""`aicc admin …`: organizations, users, members, projects and allocations (tokens, inventory and the audit log
are in :mod:`aicc.cli.records`, mounted here too).

Objects are named the way people know them (organization, project and user
names); the CLI resolves names to ids through the API, which also enforces who
may see what.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from aicc.cli.client import Client, CliError
from aicc.cli.lookup import org_by, parse_date, project_by, user_by
from aicc.cli.output import done, emit
from aicc.cli.records import audit_app, inventory_app, token_app

app = typer.Typer(help="Administer the center (center and organization admins).", no_args_is_help=True)
orgs = typer.Typer(help="Organizations.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
members = typer.Typer(help="Organization members and their roles.", no_args_is_help=True)
projects_app = typer.Typer(help="Projects and their members.", no_args_is_help=True)
allocs = typer.Typer(help="Allocations: SU budget, window, quota per flavor.", no_args_is_help=True)
for sub, name in [(orgs, "orgs"), (users_app, "users"), (members, "members"), (projects_app, "projects"),
                  (allocs, "allocations"), (inventory_app, "inventory"), (audit_app, "audit"),
                  (token_app, "tokens")]:
    app.add_typer(sub, name=name)

JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
ORG_COLS = ("id", "name", "display_name", "kind", "region", "version")
USER_COLS = ("id", "username", "display_name", "email", "center_role", "disabled")
PROJECT_COLS = ("id", "name", "organization_id", "title", "version")
ALLOC_COLS = ("id", "project", "state", "budget_su", "used_su", "remaining_su", "starts_at", "ends_at", "quotas")
INVITATION_COLS = ("id", "organization", "username", "role", "state", "created_at", "decided_at")
TOKEN_COLS = ("id", "name", "user_id", "public_id", "expires_at", "revoked_at")




def _quotas(specs: list[str]) -> dict[str, dict[str, int]]:
    """``h100=8`` or ``h100=8+4`` (nominal + borrowing limit)."""
    out: dict[str, dict[str, int]] = {}
    for spec in specs:
        flavor, _, amount = spec.partition("=")
        nominal, _, borrow = amount.partition("+")
        if not flavor or not nominal.isdigit() or (borrow and not borrow.isdigit()):
            raise CliError(f"quota {spec!r}: write FLAVOR=NOMINAL or FLAVOR=NOMINAL+BORROW, e.g. h100=8+4")
        out[flavor] = {"nominal": int(nominal), "borrowing_limit": int(borrow or 0)}
    return out


# -- organizations -------------------------------------------------------------------------------

@orgs.command("list")
def orgs_list(kind: Annotated[str | None, typer.Option()] = None, as_json: JSON = False) -> None:
    """Organizations you can see."""
    emit(Client().all_pages("/organizations", kind=kind), as_json=as_json, columns=ORG_COLS)


@orgs.command("create")
def orgs_create(
    name: str,
    display_name: Annotated[str, typer.Option("--display-name", help="Full name, e.g. 하늘AI.")],
    kind: Annotated[str, typer.Option(help="startup, university, hospital, company or public.")],
    region: Annotated[str | None, typer.Option(help="Province or city.")] = None,
    as_json: JSON = False,
) -> None:
    """Register an organization (center admins)."""
    body = {"name": name, "display_name": display_name, "kind": kind, "region": region}
    emit(Client().post("/organizations", body), as_json=as_json, columns=ORG_COLS)


@orgs.command("show")
def orgs_show(org: str, as_json: JSON = False) -> None:
    emit(org_by(Client(), org), as_json=as_json)


@orgs.command("update")
def orgs_update(
    org: str,
    display_name: Annotated[str | None, typer.Option("--display-name")] = None,
    kind: Annotated[str | None, typer.Option()] = None,
    region: Annotated[str | None, typer.Option()] = None,
    as_json: JSON = False,
) -> None:
    c = Client()
    current = org_by(c, org)
    body = {k: v for k, v in {"display_name": display_name, "kind": kind, "region": region}.items() if v}
    emit(c.patch(f"/organizations/{current['id']}", {"version": current["version"], **body}), as_json=as_json)


@orgs.command("delete")
def orgs_delete(org: str, as_json: JSON = False) -> None:
    c = Client()
    found = org_by(c, org)
    c.delete(f"/organizations/{found['id']}")
    done(f"organization {org} deleted", {"deleted": "organization", "id": found["id"], "name": org}, as_json=as_json)


# -- members ------------------------------------------------------------------------------------

@members.command("list")
def members_list(org: str, as_json: JSON = False) -> None:
    c = Client()
    emit(c.get(f"/organizations/{org_by(c, org)['id']}/members"), as_json=as_json,
         columns=("user_id", "username", "display_name", "role"))


@members.command("add")
def members_add(
    org: str, username: str,
    role: Annotated[str, typer.Option(help="member, org_admin or data_custodian.")] = "member",
    as_json: JSON = False,
) -> None:
    """Center admins: add directly (audited). Organization admins: change an existing member's role; to add
    someone, `invite` them (joining needs their consent)."""
    c = Client()
    emit(c.post(f"/organizations/{org_by(c, org)['id']}/members", {"username": username, "role": role}),
         as_json=as_json)


@members.command("invite")
def members_invite(
    org: str, username: str,
    role: Annotated[str, typer.Option(help="member or org_admin.")] = "member",
    as_json: JSON = False,
) -> None:
    """Invite an existing user; they join when they accept (`aicc invitations accept ID`)."""
    c = Client()
    emit(c.post(f"/organizations/{org_by(c, org)['id']}/invitations", {"username": username, "role": role}),
         as_json=as_json, columns=INVITATION_COLS)


@members.command("invitations")
def members_invitations(org: str, as_json: JSON = False) -> None:
    """The organization's invitations and their answers."""
    c = Client()
    emit(c.get(f"/organizations/{org_by(c, org)['id']}/invitations"), as_json=as_json, columns=INVITATION_COLS)


@members.command("withdraw")
def members_withdraw(org: str, invitation_id: int, as_json: JSON = False) -> None:
    c = Client()
    c.delete(f"/organizations/{org_by(c, org)['id']}/invitations/{invitation_id}")
    done(f"invitation {invitation_id} withdrawn", {"withdrawn": "invitation", "id": invitation_id}, as_json=as_json)


@members.command("remove")
def members_remove(org: str, username: str, as_json: JSON = False) -> None:
    c = Client()
    c.delete(f"/organizations/{org_by(c, org)['id']}/members/{user_by(c, username)['id']}")
    done(f"{username} removed from {org}", {"removed": username, "organization": org}, as_json=as_json)


# -- users -------------------------------------------------------------------------------------

@users_app.command("list")
def users_list(as_json: JSON = False) -> None:
    emit(Client().all_pages("/users"), as_json=as_json, columns=USER_COLS)


@users_app.command("create")
def users_create(
    username: str,
    display_name: Annotated[str, typer.Option("--display-name")],
    email: Annotated[str | None, typer.Option()] = None,
    center_role: Annotated[str | None, typer.Option("--center-role", help="center_admin or reviewer.")] = None,
    as_json: JSON = False,
) -> None:
    body = {"username": username, "display_name": display_name, "email": email, "center_role": center_role}
    emit(Client().post("/users", body), as_json=as_json, columns=USER_COLS)


@users_app.command("show")
def users_show(username: str, as_json: JSON = False) -> None:
    emit(user_by(Client(), username), as_json=as_json)


@users_app.command("set-password")
def users_set_password(
    username: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Set a user's portal password (center admins; the CLI keeps using API tokens)."""
    import sys

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    c = Client()
    c.post(f"/users/{user_by(c, username)['id']}/password", {"password": password})
    print(f"password set for {username}; they can sign in to the portal")


@users_app.command("disable")
def users_disable(username: str, as_json: JSON = False) -> None:
    c = Client()
    u = user_by(c, username)
    changed = c.patch(f"/users/{u['id']}", {"version": u["version"], "disabled": True})
    done(f"{username} disabled; their tokens stop working", changed, as_json=as_json)


# -- projects ----------------------------------------------------------------------------------

@projects_app.command("list")
def projects_list(org: Annotated[str | None, typer.Option()] = None, as_json: JSON = False) -> None:
    c = Client()
    org_id = org_by(c, org)["id"] if org else None
    emit(c.all_pages("/projects", organization_id=org_id), as_json=as_json, columns=PROJECT_COLS)


@projects_app.command("create")
def projects_create(
    name: str,
    org: Annotated[str, typer.Option(help="Owning organization.")],
    title: Annotated[str, typer.Option()],
    description: Annotated[str, typer.Option()] = "",
    as_json: JSON = False,
) -> None:
    c = Client()
    body = {"organization_id": org_by(c, org)["id"], "name": name, "title": title, "description": description}
    emit(c.post("/projects", body), as_json=as_json, columns=PROJECT_COLS)


@projects_app.command("show")
def projects_show(project: str, as_json: JSON = False) -> None:
    emit(project_by(Client(), project), as_json=as_json)


@projects_app.command("delete")
def projects_delete(project: str, as_json: JSON = False) -> None:
    c = Client()
    found = project_by(c, project)
    c.delete(f"/projects/{found['id']}")
    done(f"project {project} deleted", {"deleted": "project", "id": found["id"], "name": project}, as_json=as_json)


@projects_app.command("add-member")
def projects_add_member(project: str, username: str, as_json: JSON = False) -> None:
    c = Client()
    added = c.post(f"/projects/{project_by(c, project)['id']}/members", {"username": username})
    done(f"{username} added to {project}", added, as_json=as_json)


@projects_app.command("members")
def projects_members(project: str, as_json: JSON = False) -> None:
    c = Client()
    emit(c.get(f"/projects/{project_by(c, project)['id']}/members"), as_json=as_json,
         columns=("id", "username", "display_name"))


# -- allocations -------------------------------------------------------------------------------

@allocs.command("list")
def allocs_list(
    project: Annotated[str | None, typer.Option()] = None,
    state: Annotated[str | None, typer.Option(help="active, upcoming, exhausted, expired, suspended.")] = None,
    as_json: JSON = False,
) -> None:
    c = Client()
    pid = project_by(c, project)["id"] if project else None
    rows = c.all_pages("/allocations", project_id=pid, state=state)
    if not as_json:
        for r in rows:
            r["quotas"] = ", ".join(f"{f} {q['nominal']}+{q['borrowing_limit']}" for f, q in r["quotas"].items())
            r["starts_at"], r["ends_at"] = r["starts_at"][:10], r["ends_at"][:10]
    emit(rows, as_json=as_json, columns=ALLOC_COLS)


@allocs.command("create")
def allocs_create(
    project: str,
    budget: Annotated[float, typer.Option(help="Service units.")],
    start: Annotated[str, typer.Option(help="Window start, e.g. 2027-01-01.")],
    end: Annotated[str, typer.Option(help="Window end (exclusive).")],
    quota: Annotated[list[str] | None, typer.Option(help="FLAVOR=NOMINAL[+BORROW], repeatable.")] = None,
    name: Annotated[str, typer.Option(help="What the allocation is, e.g. the program.")] = "allocation",
    weight: Annotated[float, typer.Option(help="Fair-share weight.")] = 1.0,
    storage_gib: Annotated[int, typer.Option(min=0, help="Workspace storage granted while active (GiB).")] = 0,
    as_json: JSON = False,
) -> None:
    """Grant a project an allocation (center admins)."""
    c = Client()
    body = {"project_id": project_by(c, project)["id"], "name": name, "budget_su": budget,
            "starts_at": parse_date(start, "--start"), "ends_at": parse_date(end, "--end"),
            "quotas": _quotas(quota or []), "weight": weight, "storage_gib": storage_gib}
    emit(c.post("/allocations", body), as_json=as_json, columns=ALLOC_COLS)


@allocs.command("show")
def allocs_show(allocation_id: int, as_json: JSON = False) -> None:
    emit(Client().get(f"/allocations/{allocation_id}"), as_json=as_json)


@allocs.command("amend")
def allocs_amend(
    allocation_id: int,
    budget: Annotated[float | None, typer.Option(help="New total budget in SU.")] = None,
    end: Annotated[str | None, typer.Option(help="New window end.")] = None,
    quota: Annotated[list[str] | None, typer.Option(help="Replace quotas: FLAVOR=NOMINAL[+BORROW].")] = None,
    suspend: Annotated[bool | None, typer.Option("--suspend/--resume")] = None,
    storage_gib: Annotated[int | None, typer.Option(min=0, help="New workspace storage (GiB).")] = None,
    force_below_use: Annotated[bool, typer.Option(help="Apply a change that leaves the workspace over its new "
                                                  "quota (data stays, writes fail); refused without it.")] = False,
    as_json: JSON = False,
) -> None:
    """Top up, extend, change quotas or storage, suspend or resume (versioned, audited)."""
    c = Client()
    current = c.get(f"/allocations/{allocation_id}")
    body: dict[str, Any] = {"version": current["version"]}
    if budget is not None:
        body["budget_su"] = budget
    if end is not None:
        body["ends_at"] = parse_date(end, "--end")
    if quota:
        body["quotas"] = _quotas(quota)
    if suspend is not None:
        body["suspended"] = suspend
    if storage_gib is not None:
        body["storage_gib"] = storage_gib
    if force_below_use:
        body["force_below_use"] = True
    emit(c.patch(f"/allocations/{allocation_id}", body), as_json=as_json)


# -- tokens ------------------------------------------------------------------------------------


# -- inventory ---------------------------------------------------------------------------------


# -- audit -------------------------------------------------------------------------------------


