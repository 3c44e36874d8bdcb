"""`aicc programs …`: programs, calls, assignments, decisions, agreements, reclaims, reports (center staff).

`aicc apply …` (organizations) is in ``cli/apply.py`` and `aicc review …` (reviewers) in ``cli/review.py``.

Each command is one API call (or a few reads and one write); the API decides who may
do what, so the CLI never hides a command from anyone and shows the server's reason
when it refuses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aicc.cli.client import Client, CliError, Exit
from aicc.cli.lookup import parse_date
from aicc.cli.output import emit

app = typer.Typer(help="Support programs, calls, decisions, agreements, reclaims, reports (center admins).",
                  no_args_is_help=True)

JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
PROGRAM_COLS = ("id", "name", "title", "budget_su", "committed_su", "remaining_su")
CALL_COLS = ("id", "program_id", "name", "title", "opens_at", "closes_at", "tracks", "cap_su")
APP_COLS = ("id", "call_id", "project_id", "track", "title", "requested_su", "state", "decision_reason")
ASSIGN_COLS = ("id", "application_id", "state", "total", "submitted_at")
RANK_COLS = ("rank", "application_id", "title", "state", "requested_su", "mean", "spread", "reviews", "assigned")
AGREEMENT_COLS = ("id", "application_id", "project_id", "state", "current_su", "starts_at", "ends_at",
                  "cost_share_ratio", "allocation_id", "amendment_no")
RECLAIM_COLS = ("id", "agreement_id", "amount_su", "state", "reason")
CHECK_COLS = ("agreement_id", "status", "planned_su", "used_su", "ratio", "unused_su", "reclaim_id")


def flavor_amounts(specs: list[str], what: str, *, integer: bool = False) -> dict[str, Any]:
    """``h100=5000`` pairs, repeated per flavor."""
    out: dict[str, Any] = {}
    for spec in specs:
        flavor, _, amount = spec.partition("=")
        try:
            out[flavor] = int(amount) if integer else float(amount)
        except ValueError as exc:
            raise CliError(f"{what} {spec!r}: write FLAVOR=AMOUNT, e.g. h100=5000") from exc
        if not flavor:
            raise CliError(f"{what} {spec!r}: write FLAVOR=AMOUNT, e.g. h100=5000")
    return out


def program_by(c: Client, ref: str) -> dict[str, Any]:
    if ref.isdigit():
        found: dict[str, Any] = c.get(f"/programs/{ref}")
        return found
    for p in c.all_pages("/programs"):
        if p["name"] == ref:
            return dict(p)
    raise CliError(f"program {ref!r} not found", Exit.REFUSED)


# -- aicc programs ------------------------------------------------------------------------------------

@app.command("list")
def programs_list(as_json: JSON = False) -> None:
    """Programs, their budgets and what is left to award."""
    emit(Client().all_pages("/programs"), as_json=as_json, columns=PROGRAM_COLS)


@app.command("create")
def programs_create(
    name: str,
    title: Annotated[str, typer.Option(help="e.g. '2027 AI 컴퓨팅 자원 지원사업'.")],
    budget: Annotated[list[str], typer.Option(help="Total SU per flavor, repeated: --budget h100=500000.")],
    description: Annotated[str, typer.Option()] = "",
    as_json: JSON = False,
) -> None:
    """Create a program with its total budget per flavor."""
    body = {"name": name, "title": title, "description": description, "budget_su": flavor_amounts(budget, "budget")}
    emit(Client().post("/programs", body), as_json=as_json, columns=PROGRAM_COLS)


@app.command("show")
def programs_show(program: str, as_json: JSON = False) -> None:
    """A program and its calls."""
    c = Client()
    p = program_by(c, program)
    if as_json:
        emit({**p, "calls": c.all_pages("/calls", program_id=p["id"])}, as_json=True)
        return
    emit(p, as_json=False)
    emit(c.all_pages("/calls", program_id=p["id"]), as_json=False, columns=CALL_COLS, title="calls")


def _criterion(spec: str) -> dict[str, Any]:
    name, _, rest = spec.partition(":")
    weight, _, top = rest.partition(":")
    try:
        return {"name": name, "weight": float(weight), "max_score": float(top)}
    except ValueError as exc:
        raise CliError(f"criterion {spec!r}: write NAME:WEIGHT:MAX, e.g. excellence:2:10") from exc


@app.command("call-create")
def call_create(
    program: str,
    name: str,
    title: Annotated[str, typer.Option()],
    opens: Annotated[str, typer.Option(help="Opening time (ISO 8601).")],
    closes: Annotated[str, typer.Option(help="Close date (ISO 8601).")],
    track: Annotated[list[str], typer.Option(help="industry, academia, public, medical; repeated.")],
    criterion: Annotated[list[str], typer.Option(help="Rubric NAME:WEIGHT:MAX, repeated.")],
    kind: Annotated[list[str] | None, typer.Option(help="Eligible organization kind, repeated; default any.")] = None,
    region: Annotated[list[str] | None, typer.Option(help="Eligible region, repeated; default any.")] = None,
    cap: Annotated[float | None, typer.Option(help="Most SU per award.")] = None,
    budget: Annotated[list[str] | None, typer.Option(help="This round's SU per flavor; default: all left.")] = None,
    reviewers: Annotated[int, typer.Option(help="Reviewers per application.")] = 2,
    auto_award: Annotated[float | None, typer.Option(help="Auto-award threshold (mean score 0-100).")] = None,
    cost_share: Annotated[float, typer.Option(help="Organization's share of the cost, 0-1.")] = 0.0,
    regional_discount: Annotated[float, typer.Option(help="Off the cost share for --discount-region.")] = 0.0,
    discount_region: Annotated[list[str] | None, typer.Option(help="Regions with the regional discount.")] = None,
    youth_discount: Annotated[float, typer.Option(help="Off the cost share for youth-led applicants.")] = 0.0,
    su_price: Annotated[float | None, typer.Option(help="KRW per SU, for the settlement export.")] = None,
    borrowing_ratio: Annotated[float, typer.Option(help="Borrowing limit as a share of the quota.")] = 0.0,
    as_json: JSON = False,
) -> None:
    """Open a call (round) in a program."""
    c = Client()
    p = program_by(c, program)
    body = {"name": name, "title": title, "opens_at": parse_date(opens, "--opens"),
            "closes_at": parse_date(closes, "--closes"),
            "tracks": track, "eligible_kinds": kind or [], "eligible_regions": region or [], "cap_su": cap,
            "budget_su": flavor_amounts(budget, "--budget") if budget else None,
            "rubric": [_criterion(x) for x in criterion], "reviewers_per_application": reviewers,
            "auto_award_threshold": auto_award, "cost_share": cost_share, "regional_discount": regional_discount,
            "discount_regions": discount_region or [], "youth_discount": youth_discount, "su_price_krw": su_price,
            "borrowing_ratio": borrowing_ratio}
    emit(c.post(f"/programs/{p['id']}/calls", body), as_json=as_json, columns=CALL_COLS)


@app.command("calls")
def calls_list(program: Annotated[str | None, typer.Argument()] = None, as_json: JSON = False) -> None:
    """Calls, of one program or all."""
    c = Client()
    pid = program_by(c, program)["id"] if program else None
    emit(c.all_pages("/calls", program_id=pid), as_json=as_json, columns=CALL_COLS)


@app.command("close")
def call_close(call_id: int, as_json: JSON = False) -> None:
    """Close a call now; decisions can follow."""
    emit(Client().post(f"/calls/{call_id}/close", {}), as_json=as_json, columns=CALL_COLS)


@app.command("applications")
def applications_list(call: Annotated[int | None, typer.Option(help="Only this call.")] = None,
                      as_json: JSON = False) -> None:
    """Applications you may see (all, for center admins)."""
    emit(Client().all_pages("/applications", call_id=call), as_json=as_json, columns=APP_COLS)


@app.command("assign")
def assign(
    call_id: int,
    application: Annotated[int | None, typer.Option(help="Assign by hand to this application…")] = None,
    reviewer: Annotated[str | None, typer.Option(help="…this reviewer (username).")] = None,
    as_json: JSON = False,
) -> None:
    """Assign reviewers: round-robin over the call, or one by hand with --application and --reviewer."""
    c = Client()
    if (application is None) != (reviewer is None):
        raise CliError("give both --application and --reviewer, or neither for round-robin")
    if application is not None:
        rows = [c.post(f"/applications/{application}/reviewers", {"username": reviewer})]
    else:
        rows = c.post(f"/calls/{call_id}/assign-reviewers", {})
    emit(rows, as_json=as_json, columns=ASSIGN_COLS)


@app.command("ranking")
def ranking(call_id: int, as_json: JSON = False) -> None:
    """Applications by mean score, with the spread between reviewers."""
    emit(Client().get(f"/calls/{call_id}/ranking"), as_json=as_json, columns=RANK_COLS)


@app.command("decide")
def decide(
    application_id: int,
    decision: Annotated[str, typer.Option(help="award, partial or reject.")],
    reason: Annotated[str, typer.Option(help="Shown to the applicant.")],
    su: Annotated[list[str] | None, typer.Option(help="For partial: SU per flavor, repeated.")] = None,
    storage_gib: Annotated[int | None, typer.Option(min=0, help="For partial: storage given (GiB); default all "
                                                    "that was asked for.")] = None,
    as_json: JSON = False,
) -> None:
    """Award, partially award or reject; the reason is shown to the applicant."""
    body: dict[str, Any] = {"decision": decision, "reason": reason}
    if su:
        body["awarded_su"] = flavor_amounts(su, "--su")
    if storage_gib is not None:
        body["awarded_storage_gib"] = storage_gib
    emit(Client().post(f"/applications/{application_id}/decision", body), as_json=as_json, columns=APP_COLS)


@app.command("auto-award")
def auto_award(call_id: int, as_json: JSON = False) -> None:
    """Award, best first, everything above the call's threshold while the budget lasts."""
    emit(Client().post(f"/calls/{call_id}/auto-award", {}), as_json=as_json, columns=APP_COLS)


@app.command("agreements")
def agreements_list(call: Annotated[int | None, typer.Option()] = None, as_json: JSON = False) -> None:
    """Agreements: offered, accepted, declined."""
    emit(Client().all_pages("/agreements", call_id=call), as_json=as_json, columns=AGREEMENT_COLS)


@app.command("amend")
def amend(
    agreement_id: int,
    reason: Annotated[str, typer.Option()],
    extend_to: Annotated[str | None, typer.Option(help="New end date (extension).")] = None,
    top_up: Annotated[list[str] | None, typer.Option(help="More SU per flavor.")] = None,
    reduce: Annotated[list[str] | None, typer.Option(help="Less SU per flavor (never below what was used).")] = None,
    add_storage: Annotated[int, typer.Option(min=0, help="More storage (GiB): a top-up.")] = 0,
    remove_storage: Annotated[int, typer.Option(min=0, help="Less storage (GiB): a reduction.")] = 0,
    force_below_use: Annotated[bool, typer.Option(help="Apply a storage reduction that leaves the workspace "
                                                  "over its quota (data stays, writes fail).")] = False,
    as_json: JSON = False,
) -> None:
    """A versioned amendment: an extension (--extend-to), a top-up (--top-up and/or --add-storage) or a
    reduction (--reduce and/or --remove-storage)."""
    chosen = [x for x in (extend_to, top_up or add_storage, reduce or remove_storage) if x]
    if len(chosen) != 1:
        raise CliError("give exactly one of --extend-to, --top-up/--add-storage, --reduce/--remove-storage")
    body: dict[str, Any] = {"reason": reason}
    if extend_to:
        body |= {"kind": "extension", "ends_at": parse_date(extend_to, "--extend-to")}
    elif top_up or add_storage:
        body |= {"kind": "top_up", "delta_su": flavor_amounts(top_up or [], "--top-up"),
                 "delta_storage_gib": add_storage}
    else:
        body |= {"kind": "reduction", "delta_su": flavor_amounts(reduce or [], "--reduce"),
                 "delta_storage_gib": remove_storage, "force_below_use": force_below_use}
    emit(Client().post(f"/agreements/{agreement_id}/amendments", body), as_json=as_json)


@app.command("check-utilization")
def check_utilization(force: Annotated[bool, typer.Option(help="Ignore each call's check interval.")] = False,
                      as_json: JSON = False) -> None:
    """The (monthly) utilization check: warnings, and reclaim proposals after the grace period.

    Safe to run daily from cron: an agreement is checked only when its call's check interval has passed.
    """
    emit(Client().post("/programs/utilization-checks", {"force": force}), as_json=as_json, columns=CHECK_COLS)


@app.command("reclaims")
def reclaims(state: Annotated[str | None, typer.Option(help="proposed, approved or rejected.")] = None,
             as_json: JSON = False) -> None:
    """Reclaim proposals from the utilization check."""
    emit(Client().get("/reclaims", state=state), as_json=as_json, columns=RECLAIM_COLS)


@app.command("reclaim-approve")
def reclaim_approve(reclaim_id: int, amount: Annotated[float | None, typer.Option(help="SU; default proposed.")] = None,
                    as_json: JSON = False) -> None:
    """Approve a reclaim: the allocation shrinks and the SU return to the program."""
    emit(Client().post(f"/reclaims/{reclaim_id}/approve", {"amount_su": amount}), as_json=as_json,
         columns=RECLAIM_COLS)


@app.command("reclaim-reject")
def reclaim_reject(reclaim_id: int, as_json: JSON = False) -> None:
    """Reject a reclaim proposal; the allocation stays as it is."""
    emit(Client().post(f"/reclaims/{reclaim_id}/reject", {}), as_json=as_json, columns=RECLAIM_COLS)


def _download(c: Client, path: str, **params: Any) -> bytes:
    """Raw bytes (the XLSX is binary); errors read like every other command's."""
    try:
        resp = c.http.get("/api/v1" + path, params={k: v for k, v in params.items() if v is not None})
    except Exception as exc:
        raise CliError(f"cannot reach AICC at {c.url}: {exc}", Exit.UNREACHABLE) from exc
    if resp.status_code >= 400:
        try:
            detail = resp.json().get("detail") or resp.reason_phrase
        except ValueError:
            detail = resp.reason_phrase
        raise CliError(f"error {resp.status_code}: {detail}")
    return bytes(resp.content)


@app.command("report")
def report(
    program: str,
    call: Annotated[int | None, typer.Option(help="Only this call.")] = None,
    csv: Annotated[Path | None, typer.Option(help="Write one section as CSV to this file.")] = None,
    section: Annotated[str, typer.Option(help="With --csv: by_track, by_org_kind, by_region, su_by_organization, "
                                              "utilization_by_month, outcomes, settlement.")] = "settlement",
    xlsx: Annotated[Path | None, typer.Option(help="Write every section to this XLSX workbook.")] = None,
    as_json: JSON = False,
) -> None:
    """Applications and awards by track, kind and region; SU awarded vs used; outcomes; settlement."""
    c = Client()
    pid = program_by(c, program)["id"]
    if csv is not None:
        csv.write_bytes(_download(c, f"/programs/{pid}/report.csv", call_id=call, section=section))
        print(f"{section} written to {csv}")
        return
    if xlsx is not None:
        xlsx.write_bytes(_download(c, f"/programs/{pid}/report.xlsx", call_id=call))
        print(f"report written to {xlsx}")
        return
    rep = c.get(f"/programs/{pid}/report", call_id=call)
    if as_json:
        emit(rep, as_json=True)
        return
    for name, table in rep["sections"].items():
        emit([dict(zip(table["columns"], row, strict=True)) for row in table["rows"]], as_json=False,
             columns=table["columns"], title=name)
