"""`aicc apply …`: draft, submit, withdraw and attach to applications; accept agreements; report outcomes.

For organization admins (project members may read). The API decides who may do what.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aicc.cli.client import Client, CliError
from aicc.cli.lookup import parse_date, project_by
from aicc.cli.output import emit
from aicc.cli.programs import AGREEMENT_COLS, APP_COLS, JSON, flavor_amounts

apply_app = typer.Typer(help="Apply to a call, submit, attach files, accept agreements (organization admins).",
                        no_args_is_help=True)


@apply_app.command("create")
def apply_create(
    call: Annotated[int, typer.Option(help="The call's id (aicc programs calls).")],
    project: Annotated[str, typer.Option(help="Your project.")],
    track: Annotated[str, typer.Option(help="industry, academia, public or medical.")],
    title: Annotated[str, typer.Option()],
    su: Annotated[list[str], typer.Option(help="Requested SU per flavor, repeated: --su h100=20000.")],
    start: Annotated[str, typer.Option(help="Period start.")],
    end: Annotated[str, typer.Option(help="Period end.")],
    accelerators: Annotated[list[str] | None, typer.Option(help="Concurrent accelerators: h100=8.")] = None,
    plan: Annotated[Path | None, typer.Option(help="A text file with the plan.")] = None,
    outcomes: Annotated[str, typer.Option(help="Expected outcomes.")] = "",
    member: Annotated[list[str] | None, typer.Option(help="Team member NAME[:ROLE], repeated.")] = None,
    youth: Annotated[bool, typer.Option(help="A youth-led organization (청년 기업).")] = False,
    storage_gib: Annotated[int, typer.Option(min=0, help="Workspace storage asked for beside the SU (GiB).")] = 0,
    as_json: JSON = False,
) -> None:
    """Draft an application (과제); `aicc apply submit` sends it."""
    c = Client()
    team = [{"name": m.partition(":")[0], "role": m.partition(":")[2]} for m in member or []]
    body = {"call_id": call, "project_id": project_by(c, project)["id"], "track": track, "title": title,
            "plan": plan.read_text(encoding="utf-8") if plan else "", "expected_outcomes": outcomes, "team": team,
            "requested_su": flavor_amounts(su, "--su"),
            "requested_accelerators": flavor_amounts(accelerators or [], "--accelerators", integer=True),
            "starts_at": parse_date(start, "--start"), "ends_at": parse_date(end, "--end"), "youth": youth,
            "requested_storage_gib": storage_gib}
    emit(c.post("/applications", body), as_json=as_json, columns=APP_COLS)


@apply_app.command("list")
def apply_list(as_json: JSON = False) -> None:
    """Your organization's applications and their decisions."""
    emit(Client().all_pages("/applications"), as_json=as_json, columns=APP_COLS)


@apply_app.command("show")
def apply_show(application_id: int, as_json: JSON = False) -> None:
    """One application; with --json also its attachments and the reviews you may see."""
    c = Client()
    a = c.get(f"/applications/{application_id}")
    if as_json:
        emit({**a, "attachments": c.get(f"/applications/{application_id}/attachments"),
              "reviews": c.get(f"/applications/{application_id}/reviews")}, as_json=True)
        return
    emit(a, as_json=False)


@apply_app.command("edit")
def apply_edit(
    application_id: int,
    title: Annotated[str | None, typer.Option()] = None,
    su: Annotated[list[str] | None, typer.Option(help="Replaces the requested SU: --su h100=20000.")] = None,
    accelerators: Annotated[list[str] | None, typer.Option(help="Replaces the accelerators: h100=8.")] = None,
    plan: Annotated[Path | None, typer.Option(help="A text file with the new plan.")] = None,
    outcomes: Annotated[str | None, typer.Option(help="Expected outcomes.")] = None,
    start: Annotated[str | None, typer.Option(help="Period start.")] = None,
    end: Annotated[str | None, typer.Option(help="Period end.")] = None,
    storage_gib: Annotated[int | None, typer.Option(min=0, help="Replaces the storage asked for (GiB).")] = None,
    as_json: JSON = False,
) -> None:
    """Change a draft (or a withdrawn application, which becomes a draft again)."""
    c = Client()
    current = c.get(f"/applications/{application_id}")
    body: dict[str, Any] = {"version": current["version"]}
    if title is not None:
        body["title"] = title
    if su:
        body["requested_su"] = flavor_amounts(su, "--su")
    if accelerators:
        body["requested_accelerators"] = flavor_amounts(accelerators, "--accelerators", integer=True)
    if plan is not None:
        body["plan"] = plan.read_text(encoding="utf-8")
    if outcomes is not None:
        body["expected_outcomes"] = outcomes
    if start is not None:
        body["starts_at"] = parse_date(start, "--start")
    if end is not None:
        body["ends_at"] = parse_date(end, "--end")
    if storage_gib is not None:
        body["requested_storage_gib"] = storage_gib
    emit(c.patch(f"/applications/{application_id}", body), as_json=as_json, columns=APP_COLS)


@apply_app.command("submit")
def apply_submit(application_id: int, as_json: JSON = False) -> None:
    """Submit (eligibility is checked now); the application is then frozen."""
    emit(Client().post(f"/applications/{application_id}/submit", {}), as_json=as_json, columns=APP_COLS)


@apply_app.command("withdraw")
def apply_withdraw(application_id: int, as_json: JSON = False) -> None:
    """Withdraw before the close date; edit and submit again if you like."""
    emit(Client().post(f"/applications/{application_id}/withdraw", {}), as_json=as_json, columns=APP_COLS)


TYPES = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
         ".txt": "text/plain", ".md": "text/markdown", ".csv": "text/csv", ".hwp": "application/x-hwp",
         ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


@apply_app.command("attach")
def apply_attach(application_id: int, file: Path, as_json: JSON = False) -> None:
    """Attach a file to a draft (PDF, image, text, CSV, XLSX, DOCX, HWP)."""
    media = TYPES.get(file.suffix.lower())
    if media is None:
        raise CliError(f"{file.name}: attach {', '.join(sorted(TYPES))} files")
    row = Client().request("POST", f"/applications/{application_id}/attachments",
                           files={"file": (file.name, file.read_bytes(), media)})
    emit(row, as_json=as_json, columns=("id", "filename", "content_type", "size", "sha256"))


@apply_app.command("agreements")
def apply_agreements(as_json: JSON = False) -> None:
    """Agreements offered to and accepted by your organization."""
    emit(Client().all_pages("/agreements"), as_json=as_json, columns=AGREEMENT_COLS)


@apply_app.command("accept")
def apply_accept(agreement_id: int, as_json: JSON = False) -> None:
    """Accept the agreement's terms; the project's allocation is created now."""
    emit(Client().post(f"/agreements/{agreement_id}/accept", {}), as_json=as_json, columns=AGREEMENT_COLS)


@apply_app.command("decline")
def apply_decline(agreement_id: int, as_json: JSON = False) -> None:
    """Decline the agreement; its SU return to the program."""
    emit(Client().post(f"/agreements/{agreement_id}/decline", {}), as_json=as_json, columns=AGREEMENT_COLS)


@apply_app.command("outcome")
def apply_outcome(
    agreement_id: int,
    publications: Annotated[int, typer.Option()] = 0,
    products: Annotated[int, typer.Option()] = 0,
    patents: Annotated[int, typer.Option()] = 0,
    hires: Annotated[int, typer.Option()] = 0,
    funding: Annotated[float, typer.Option(help="Follow-on funding, KRW.")] = 0.0,
    note: Annotated[str, typer.Option()] = "",
    as_json: JSON = False,
) -> None:
    """Report what the project achieved with the award."""
    body = {"publications": publications, "products": products, "patents": patents, "hires": hires,
            "follow_on_funding_krw": funding, "note": note}
    emit(Client().post(f"/agreements/{agreement_id}/outcomes", body), as_json=as_json)
