"""`aicc reservation create|ls|rm`: class hours, a flavor's capacity held for a course or project (center admins).

`aicc reservation create ai-101-lab --flavor h100 --units 4 --course ai-101 --first 2027-03-02T14:00
--length 3h --weeks 8 --tz Asia/Seoul` holds 4 h100 on eight Tuesdays, 14:00-17:00 Seoul time. An overlap that
would hold more than the flavor has is refused with the clash named.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from aicc.cli.client import Client, CliError
from aicc.cli.jobs import time_limit_seconds
from aicc.cli.lookup import project_by
from aicc.cli.output import done, emit

app = typer.Typer(help="Class hours: capacity held for a course or project (center admins).", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
COLS = ("id", "name", "flavor", "units", "project", "course", "first_local", "timezone", "length_min", "count",
        "every_days", "next_start")


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A name for it, e.g. ai-101-lab.")],
    flavor: Annotated[str, typer.Option("--flavor", "-f", help="The flavor held, e.g. h100.")],
    units: Annotated[int, typer.Option("--units", "-n", help="Accelerators held (cores on a CPU flavor).")],
    first: Annotated[str, typer.Option("--first", help="First start, local time: 2027-03-02T14:00.")],
    length: Annotated[str, typer.Option("--length", help="Each window's length, e.g. 3h or 90m.")],
    course: Annotated[str | None, typer.Option("--course", help="For a course (its project's runs use it).")] = None,
    project: Annotated[str | None, typer.Option("--project", "-p", help="Or for a project.")] = None,
    weeks: Annotated[int, typer.Option("--weeks", "--count", help="How many windows (weekly unless --every).")] = 1,
    every: Annotated[int, typer.Option("--every", help="Days between windows.")] = 7,
    tz: Annotated[str, typer.Option("--tz", help="Time zone of --first (IANA).")] = "Asia/Seoul",
    as_json: JSON = False,
) -> None:
    """Hold capacity over recurring windows."""
    if (course is None) == (project is None):
        raise CliError("name exactly one of --course and --project")
    c = Client()
    body: dict[str, Any] = {"name": name, "flavor": flavor, "units": units, "first_start": first,
                            "timezone": tz, "length_min": max(1, time_limit_seconds(length) // 60), "count": weeks,
                            "every_days": every}
    if course is not None:
        body["course"] = course
    else:
        body["project_id"] = project_by(c, project or "")["id"]
    emit(c.post("/reservations", body), as_json=as_json, columns=COLS)


@app.command("ls")
def ls(past: Annotated[bool, typer.Option("--past", help="Also those already over.")] = False,
       as_json: JSON = False) -> None:
    """Reservations not yet over (yours, or all for a center admin)."""
    emit(Client().get("/reservations", past=str(past).lower()), as_json=as_json, columns=COLS)


@app.command("rm")
def rm(name: Annotated[str, typer.Argument(help="Its name.")], as_json: JSON = False) -> None:
    """Remove a reservation: its hours are everyone's from the next cycle."""
    c = Client()
    found = [r for r in c.get("/reservations", past="true") if r["name"] == name]
    if not found:
        raise CliError(f"no reservation {name!r}")
    c.delete(f"/reservations/{found[0]['id']}")
    done(f"Removed reservation {name}", {"removed": "reservation", "id": found[0]["id"], "name": name},
         as_json=as_json)
