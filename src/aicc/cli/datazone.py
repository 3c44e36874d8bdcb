"""`aicc datasets …`, `aicc grants …`, `aicc outputs …`: the secure data zone from the command line.

Custodians register and publish datasets, decide on grants and release outputs
file by file; projects ask for grants, see their held outputs and download what
was released.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aicc.cli.client import Client, CliError, Exit
from aicc.cli.lookup import org_by, parse_date, project_by
from aicc.cli.output import done, emit

datasets_app = typer.Typer(help="Datasets held by custodians (secure data zone).", no_args_is_help=True)
grants_app = typer.Typer(help="Grants: a project's access to a sensitive dataset.", no_args_is_help=True)
outputs_app = typer.Typer(help="Outputs of sensitive jobs: held, checked, released by the custodian.",
                          no_args_is_help=True)

JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
DATASET_COLS = ("id", "name", "title", "classification", "state", "organization_id", "files", "bytes")
GRANT_COLS = ("id", "dataset_id", "project_id", "state", "expires_at", "purpose", "comment")
REQUEST_COLS = ("id", "job_id", "project_id", "state", "files", "released", "note", "created_at", "retain_until")
FILE_COLS = ("id", "path", "kind", "size", "check_status", "decision", "reasons")


def dataset_by(c: Client, ref: str) -> dict[str, Any]:
    if ref.isdigit():
        found: dict[str, Any] = c.get(f"/datasets/{ref}")
        return found
    for d in c.get("/datasets"):
        if d["name"] == ref:
            return dict(d)
    raise CliError(f"dataset {ref!r} not found", Exit.REFUSED)


def _columns(specs: list[str], role: str) -> list[dict[str, str]]:
    return [{"name": name.strip(), "role": role} for spec in specs for name in spec.split(",") if name.strip()]


@datasets_app.command("list")
def datasets_list(as_json: JSON = False) -> None:
    """Datasets you may see: your organization's, open ones, and those your projects are granted."""
    emit(Client().get("/datasets"), as_json=as_json, columns=DATASET_COLS)


@datasets_app.command("show")
def datasets_show(dataset: str, as_json: JSON = False) -> None:
    emit(dataset_by(Client(), dataset), as_json=as_json)


@datasets_app.command("register")
def datasets_register(
    name: str,
    path: Annotated[str, typer.Option(help="Directory relative to the center's data root.")],
    org: Annotated[str, typer.Option("--org", help="The custodian organization.")],
    title: Annotated[str, typer.Option()],
    sensitive: Annotated[bool, typer.Option("--sensitive/--open", help="Classification.")] = True,
    identifier: Annotated[list[str] | None, typer.Option("--identifier", help="Direct identifier column(s), "
                                                         "comma-separated or repeated.")] = None,
    quasi: Annotated[list[str] | None, typer.Option("--quasi", help="Quasi-identifier column(s).")] = None,
    pseudonymize: Annotated[bool, typer.Option(help="Replace identifiers by keyed pseudonyms.")] = False,
    k: Annotated[int, typer.Option(help="Required k-anonymity over the quasi-identifiers.")] = 5,
    threshold: Annotated[int | None, typer.Option(help="Smallest cell count in output tables (ACRO).")] = None,
    description: Annotated[str, typer.Option()] = "",
    as_json: JSON = False,
) -> None:
    """Register a dataset (custodians): checksums, column roles, k-anonymity report."""
    c = Client()
    body = {"organization_id": org_by(c, org)["id"], "name": name, "title": title, "description": description,
            "classification": "sensitive" if sensitive else "open", "path": path,
            "columns": _columns(identifier or [], "identifier") + _columns(quasi or [], "quasi_identifier"),
            "pseudonymize": pseudonymize, "k": k,
            "sdc": {"threshold": threshold} if threshold is not None else {}}
    emit(c.post("/datasets", body), as_json=as_json, columns=DATASET_COLS)


@datasets_app.command("publish")
def datasets_publish(dataset: str, as_json: JSON = False) -> None:
    """Verify checksums, pseudonymise, require k-anonymity; then grantees may use it."""
    c = Client()
    emit(c.post(f"/datasets/{dataset_by(c, dataset)['id']}/publish", {}), as_json=as_json, columns=DATASET_COLS)


@datasets_app.command("withdraw")
def datasets_withdraw(dataset: str, as_json: JSON = False) -> None:
    c = Client()
    withdrawn = c.post(f"/datasets/{dataset_by(c, dataset)['id']}/withdraw", {})
    done(f"Withdrew dataset {dataset}", withdrawn, as_json=as_json)


@grants_app.command("list")
def grants_list(project: Annotated[str | None, typer.Option()] = None, as_json: JSON = False) -> None:
    c = Client()
    pid = project_by(c, project)["id"] if project else None
    emit(c.get("/grants", project_id=pid), as_json=as_json, columns=GRANT_COLS)


@grants_app.command("request")
def grants_request(
    dataset: str,
    project: Annotated[str, typer.Option("--project", "-p")],
    purpose: Annotated[str, typer.Option(help="What the data will be used for.")],
    until: Annotated[str, typer.Option(help="Expiry, e.g. 2027-06-30.")],
    as_json: JSON = False,
) -> None:
    """Ask a dataset's custodian for access for a project."""
    c = Client()
    body = {"dataset": dataset, "project_id": project_by(c, project)["id"], "purpose": purpose,
            "expires_at": parse_date(until, "--until")}
    g = c.post("/grants", body)
    if as_json:
        emit(g, as_json=True)
    else:
        print(f"Requested grant {g['id']}: waiting for the custodian of {dataset}")


def _decide(grant_id: int, approve: bool, comment: str, until: str | None, as_json: bool) -> None:
    body: dict[str, Any] = {"approve": approve, "comment": comment}
    if until:
        body["expires_at"] = parse_date(until, "--until")
    g = Client().post(f"/grants/{grant_id}/decision", body)
    if as_json:
        emit(g, as_json=True)
    else:
        print(f"Grant {g['id']} {g['state']} (expires {g['expires_at']})")


@grants_app.command("approve")
def grants_approve(grant_id: int, comment: Annotated[str, typer.Option()] = "",
                   until: Annotated[str | None, typer.Option(help="Shorten the expiry.")] = None,
                   as_json: JSON = False) -> None:
    """Approve a requested grant (custodians)."""
    _decide(grant_id, True, comment, until, as_json)


@grants_app.command("reject")
def grants_reject(grant_id: int, comment: Annotated[str, typer.Option()] = "", as_json: JSON = False) -> None:
    _decide(grant_id, False, comment, None, as_json)


@grants_app.command("revoke")
def grants_revoke(grant_id: int, comment: Annotated[str, typer.Option()] = "",
                  stop_running: Annotated[bool, typer.Option(help="Also cancel running jobs.")] = False,
                  as_json: JSON = False) -> None:
    """Revoke a grant: no new job starts; with --stop-running, running ones are cancelled."""
    r = Client().post(f"/grants/{grant_id}/revoke", {"comment": comment, "stop_running": stop_running})
    done(f"Revoked grant {grant_id}" + (f"; cancelling jobs {r['stopped_jobs']}" if r["stopped_jobs"] else ""), r,
         as_json=as_json)


def _summary(req: dict[str, Any]) -> dict[str, Any]:
    """Counts only: the project learns nothing else of held files before the custodian approves them."""
    return {**req, "files": req["held_files"], "released": req["released_files"]}


@outputs_app.command("list")
def outputs_list(project: Annotated[str | None, typer.Option()] = None,
                 state: Annotated[str | None, typer.Option(help="held, checked or decided.")] = None,
                 as_json: JSON = False) -> None:
    """Output requests of your projects' sensitive jobs, and those waiting for you as a custodian."""
    c = Client()
    pid = project_by(c, project)["id"] if project else None
    reqs = c.get("/outputs", project_id=pid, state=state)
    emit(reqs if as_json else [_summary(r) for r in reqs], as_json=as_json, columns=REQUEST_COLS)


@outputs_app.command("show")
def outputs_show(request_id: int, as_json: JSON = False) -> None:
    """Custodians: each file with its automatic check results and decision. The project: the released files,
    and how many are held for review."""
    req = Client().get(f"/outputs/{request_id}")
    if as_json:
        emit(req, as_json=True)
        return
    rows = [{**f, "reasons": "; ".join(f["check_reasons"] or [])} for f in req["files"]]
    title = f"Output request {req['id']} of job {req['job_id']}"
    if req["note"]:
        title += f": {req['held_files']} file(s), {req['note']}"
    emit(rows, as_json=False, columns=FILE_COLS, title=title)


def _file(c: Client, request_id: int, path: str) -> dict[str, Any]:
    req = c.get(f"/outputs/{request_id}")
    for f in req["files"]:
        if f["path"] == path or str(f["id"]) == path:
            return dict(f)
    if req.get("note"):  # the project sees released files only: say so rather than "no such file"
        raise CliError(f"{path!r} has not been released by the data custodian (or is not in output request "
                       f"{request_id}); {req['held_files']} file(s) {req['note']}")
    raise CliError(f"output request {request_id} has no file {path!r}")


@outputs_app.command("download")
def outputs_download(
    request_id: int, path: str,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Where to write it.")] = None,
) -> None:
    """Download a released file (custodians may download any held file to review it; audited)."""
    c = Client()
    f = _file(c, request_id, path)
    data = c.download(f"/outputs/{request_id}/files/{f['id']}/content")
    target = out or Path(f["path"].rsplit("/", 1)[-1])
    if target.exists() and target.is_dir():
        target = target / f["path"].rsplit("/", 1)[-1]
    target.write_bytes(data)
    print(f"Wrote {target} ({len(data)} bytes)")


def _decide_file(request_id: int, path: str, approve: bool, comment: str, as_json: bool) -> None:
    c = Client()
    f = c.post(f"/outputs/{request_id}/files/{_file(c, request_id, path)['id']}/decision",
               {"approve": approve, "comment": comment})
    if as_json:
        emit(f, as_json=True)
    else:
        print(f"{'Approved' if approve else 'Rejected'} {f['path']}")


@outputs_app.command("approve")
def outputs_approve(request_id: int, path: str, comment: Annotated[str, typer.Option()] = "",
                    as_json: JSON = False) -> None:
    """Release one file to the project (custodians)."""
    _decide_file(request_id, path, True, comment, as_json)


@outputs_app.command("reject")
def outputs_reject(request_id: int, path: str, comment: Annotated[str, typer.Option()] = "",
                   as_json: JSON = False) -> None:
    """Keep one file in the zone for good (custodians)."""
    _decide_file(request_id, path, False, comment, as_json)
