"""`aicc session start|list|show|stop`: interactive JupyterLab or terminal sessions, opened in the portal.

A session is a job (kind session): it waits for capacity like one and is charged like one. `start --wait`
returns once it is ready and prints the URL to open in a browser signed in to the portal; the session's own
token is never printed.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from aicc.cli.client import Client, CliError
from aicc.cli.jobs import memory_mb, time_limit_seconds
from aicc.cli.output import done, emit

app = typer.Typer(help="Interactive sessions (JupyterLab, terminals) reached through the portal.", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
COLS = ("id", "kind", "phase", "flavor", "accelerators", "url", "reason")


def _url(c: Client, s: dict[str, Any]) -> dict[str, Any]:
    return {**s, "url": c.url + s["url"] if s.get("url") else None}


@app.command("start")
def start(
    kind: Annotated[str, typer.Option("--kind", "-k", help="jupyter or terminal.")] = "jupyter",
    project: Annotated[str | None, typer.Option("--project", "-p", help="Project to charge.")] = None,
    image: Annotated[str | None, typer.Option("--image", help="OCI image with jupyter-lab (default: the center's "
                                              "JupyterLab on the host system).")] = None,
    gpus: Annotated[int, typer.Option("--gpus", "-G", help="Accelerators.")] = 0,
    flavor: Annotated[str | None, typer.Option(help="Acceptable flavors, e.g. h100 (without: CPUs for --gpus 0).")
                      ] = None,
    cpus: Annotated[int, typer.Option("--cpus", "-c")] = 1,
    mem: Annotated[str, typer.Option("--mem", help="Memory, e.g. 8G.")] = "2G",
    time_limit: Annotated[str, typer.Option("--time", "-t", help="Limit, e.g. 2h.")] = "2h",
    idle: Annotated[str | None, typer.Option("--idle", help="Stop after this long unused, e.g. 30m (0: never).")
                    ] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until it is ready.")] = True,
    as_json: JSON = False,
) -> None:
    """Start a session; with --wait (the default) print its URL once ready."""
    if kind not in ("jupyter", "terminal"):
        raise CliError("--kind: jupyter or terminal")
    c = Client()
    body: dict[str, Any] = {"kind": kind, "image": image, "accelerators": gpus, "cpus": cpus,
                            "memory_mb": memory_mb(mem), "time_limit_s": time_limit_seconds(time_limit),
                            "flavors": [f.strip().lower() for f in (flavor or "").split(",") if f.strip()]}
    if idle is not None:
        body["idle_limit_s"] = 0 if idle.strip() == "0" else time_limit_seconds(idle)
    if project is None:
        me = c.get("/users/me")
        if len(me["projects"]) != 1:
            raise CliError("you are in several projects (or none): say which with --project")
        body["project_id"] = me["projects"][0]
    else:
        body["project"] = project
    s = c.post("/sessions", {k: v for k, v in body.items() if v is not None})
    if not as_json:
        print(f"Session {s['id']} submitted ({kind})")
    while wait and s["phase"] in ("pending", "starting"):
        time.sleep(1)
        s = c.get(f"/sessions/{s['id']}")
    s = _url(c, s)
    if as_json:
        emit(s, as_json=True)
    elif s["phase"] == "ready":
        print(f"Ready: open {s['url']} (signed in to the portal)")
    elif s["phase"] == "ended":
        raise CliError(f"session {s['id']} ended: {s.get('ended_why') or s['reason']}")


@app.command("list")
def list_(all_: Annotated[bool, typer.Option("--all", help="Ended ones too.")] = False, as_json: JSON = False) -> None:
    """Your sessions, newest first."""
    c = Client()
    rows = [_url(c, s) for s in c.get("/sessions", live=str(not all_).lower())]
    emit(rows, as_json=as_json, columns=COLS)


@app.command("show")
def show(session_id: int, as_json: JSON = False) -> None:
    c = Client()
    emit(_url(c, c.get(f"/sessions/{session_id}")), as_json=as_json)


@app.command("stop")
def stop(session_id: int, as_json: JSON = False) -> None:
    """Stop it (files in your session's folder stay; its private /tmp goes)."""
    stopping = Client().delete(f"/sessions/{session_id}")
    done(f"Stopping session {session_id}", stopping or {"stopping": "session", "id": session_id}, as_json=as_json)
