"""`aicc serve …`: always-on model endpoints behind the gateway (create, list, show, update, rollback, scale,
start, delete, events, keys). A service is named by its name (with ``--project`` when several projects have
one of that name)."""

from __future__ import annotations

import shlex
from typing import Annotated, Any

import typer

from aicc.cli.client import Client, CliError
from aicc.cli.jobs import memory_mb
from aicc.cli.output import done, emit

app = typer.Typer(help="Always-on services: replicas behind the gateway at /svc/<project>/<name>/.",
                  no_args_is_help=True)
keys_app = typer.Typer(help="A service's API keys (sent as Authorization: Bearer <key>).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Project = Annotated[str | None, typer.Option("--project", "-p", help="The service's project.")]
COLS = ("id", "name", "state", "revision", "replicas", "min_replicas", "max_replicas", "address", "reason")
REPLICA_COLS = ("id", "state", "replica_state", "service_revision", "flavor", "started_at", "reason")


def _env(items: list[str] | None) -> dict[str, str] | None:
    if not items:
        return None
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"--env {item!r}: write KEY=VALUE")
        out[key] = value
    return out


def _find(c: Client, name: str, project: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"name": name}
    if project:
        from aicc.cli.lookup import project_by

        params["project_id"] = project_by(c, project)["id"]
    found = c.get("/services", **params)
    if not found:
        raise CliError(f"no service named {name}" + (f" in project {project}" if project else ""))
    if len(found) > 1:
        raise CliError(f"several projects have a service named {name}: say which with --project")
    return dict(found[0])


def _show(detail: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit(detail, as_json=True)
        return
    emit({k: detail[k] for k in COLS}, as_json=False)
    cur = detail["current"]
    print(f"revision {cur['number']}: {cur['image_ref'] or 'host system'} {shlex.join(cur['command'])} "
          f"(port {cur['port']}, health {cur['health_path']})")
    if detail["live_replicas"]:
        emit(detail["live_replicas"], as_json=False, columns=REPLICA_COLS, title="replicas")


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A DNS label, unique in the project.")],
    image: Annotated[str | None, typer.Option(help="OCI image of the server (default: the host's system).")] = None,
    command: Annotated[str | None, typer.Option(help="The server's command line, e.g. 'python -m app --port 8000'.")
                       ] = None,
    port: Annotated[int, typer.Option(help="The port the server listens on (inside the replica only).")] = 8000,
    health: Annotated[str, typer.Option(help="Readiness path: GET must answer 2xx/3xx.")] = "/health",
    replicas: Annotated[int, typer.Option(help="Replicas to run.")] = 1,
    min_replicas: Annotated[int | None, typer.Option("--min", help="Autoscaling floor.")] = None,
    max_replicas: Annotated[int | None, typer.Option("--max", help="Autoscaling ceiling.")] = None,
    target: Annotated[float, typer.Option("--target-in-flight", help="Requests in flight per replica to aim at.")
                      ] = 4.0,
    gpus: Annotated[int, typer.Option("--gpus", "-G", help="Accelerators per replica (nominal quota only).")] = 0,
    flavor: Annotated[str | None, typer.Option(help="Acceptable flavors, e.g. h100,a100.")] = None,
    cpus: Annotated[int, typer.Option("--cpus", "-c")] = 1,
    mem: Annotated[str, typer.Option("--mem", help="Memory per replica, e.g. 8G.")] = "2G",
    env: Annotated[list[str] | None, typer.Option("--env", "-e", help="KEY=VALUE, repeatable.")] = None,
    project: Project = None,
    as_json: JSON = False,
) -> None:
    """Create a service; its replicas start as the center admits them (within the project's nominal quota)."""
    c = Client()
    body: dict[str, Any] = {
        "name": name, "image": image, "command": shlex.split(command) if command else [], "port": port,
        "health": health, "replicas": replicas, "min_replicas": min_replicas, "max_replicas": max_replicas,
        "target_in_flight": target, "accelerators": gpus, "cpus": cpus, "memory_mb": memory_mb(mem),
        "flavors": [f.strip().lower() for f in (flavor or "").split(",") if f.strip()], "env": _env(env) or {},
    }
    if project is None:
        me = c.get("/users/me")
        if len(me["projects"]) != 1:
            raise CliError("you are in several projects (or none): say which with --project")
        body["project_id"] = me["projects"][0]
    else:
        body["project"] = project
    done = c.post("/services", {k: v for k, v in body.items() if v is not None})
    if as_json:
        emit(done, as_json=True)
    else:
        print(f"Created service {done['name']} at {done['address']} ({done['replicas']} replica(s))")


@app.command("list")
def list_(project: Project = None, as_json: JSON = False) -> None:
    """Your projects' services."""
    c = Client()
    params: dict[str, Any] = {}
    if project:
        from aicc.cli.lookup import project_by

        params["project_id"] = project_by(c, project)["id"]
    emit(c.get("/services", **params), as_json=as_json, columns=COLS)


@app.command("show")
def show(name: str, project: Project = None, as_json: JSON = False) -> None:
    """A service, its current revision and its replicas."""
    c = Client()
    _show(c.get(f"/services/{_find(c, name, project)['id']}"), as_json)


@app.command("update")
def update(
    name: str,
    image: Annotated[str | None, typer.Option(help="The new image.")] = None,
    command: Annotated[str | None, typer.Option(help="The new command line.")] = None,
    port: Annotated[int | None, typer.Option()] = None,
    health: Annotated[str | None, typer.Option()] = None,
    env: Annotated[list[str] | None, typer.Option("--env", "-e", help="KEY=VALUE (replaces the environment).")
                   ] = None,
    project: Project = None,
    as_json: JSON = False,
) -> None:
    """A new revision; replicas are replaced one at a time, each new one ready before an old one leaves."""
    c = Client()
    body = {"image": image, "command": shlex.split(command) if command else None, "port": port, "health": health,
            "env": _env(env)}
    done = c.post(f"/services/{_find(c, name, project)['id']}/revisions",
                  {k: v for k, v in body.items() if v is not None})
    _done(done, f"Rolling {done['name']} to revision {done['revision']}", as_json)


def _done(detail: dict[str, Any], line: str, as_json: bool) -> None:
    if as_json:
        emit(detail, as_json=True)
    else:
        print(line)


@app.command("rollback")
def rollback(name: str, project: Project = None, as_json: JSON = False) -> None:
    """Back to the previous revision (rolled out the same way)."""
    c = Client()
    done = c.post(f"/services/{_find(c, name, project)['id']}/rollback", {})
    _done(done, f"Rolling {done['name']} back to revision {done['revision']}", as_json)


@app.command("scale")
def scale(
    name: str,
    replicas: Annotated[int | None, typer.Option(help="Replicas now.")] = None,
    min_replicas: Annotated[int | None, typer.Option("--min")] = None,
    max_replicas: Annotated[int | None, typer.Option("--max")] = None,
    project: Project = None,
    as_json: JSON = False,
) -> None:
    """Set the replica count, or the autoscaler's bounds."""
    c = Client()
    body = {"replicas": replicas, "min_replicas": min_replicas, "max_replicas": max_replicas}
    done = c.post(f"/services/{_find(c, name, project)['id']}/scale", {k: v for k, v in body.items() if v is not None})
    _done(done, f"{done['name']}: {done['replicas']} replica(s) (min {done['min_replicas']}, "
                f"max {done['max_replicas']})", as_json)


@app.command("start")
def start(name: str, project: Project = None, as_json: JSON = False) -> None:
    """Run a stopped or failed service again."""
    c = Client()
    done = c.post(f"/services/{_find(c, name, project)['id']}/start", {})
    _done(done, f"Starting {done['name']} with {done['replicas']} replica(s)", as_json)


@app.command("delete")
def delete(name: str, project: Project = None, as_json: JSON = False) -> None:
    """Stop every replica and delete the service (its name becomes free)."""
    c = Client()
    deleted = c.delete(f"/services/{_find(c, name, project)['id']}")
    done(f"Deleted service {name} ({deleted['id']})", deleted, as_json=as_json)


@app.command("events")
def events(name: str, project: Project = None, as_json: JSON = False) -> None:
    """What happened to the service: replicas ready, out of rotation, restarted and why; updates; budget."""
    c = Client()
    emit(c.get(f"/services/{_find(c, name, project)['id']}/events"), as_json=as_json,
         columns=("at", "kind", "job_id", "message"))


@keys_app.command("list")
def keys_list(name: str, project: Project = None, as_json: JSON = False) -> None:
    c = Client()
    emit(c.get(f"/services/{_find(c, name, project)['id']}/keys"), as_json=as_json,
         columns=("id", "name", "public_id", "rate_per_s", "burst", "created_at", "revoked_at"))


@keys_app.command("create")
def keys_create(
    name: str,
    key_name: Annotated[str, typer.Option("--name", help="Who the key is for.")],
    rate: Annotated[float, typer.Option(help="Requests a second.")] = 50.0,
    burst: Annotated[int | None, typer.Option(help="Requests at once above the rate.")] = None,
    project: Project = None,
    as_json: JSON = False,
) -> None:
    """A new key, printed once (only its hash is kept)."""
    c = Client()
    body: dict[str, Any] = {"name": key_name, "rate_per_s": rate}
    if burst is not None:
        body["burst"] = burst
    done = c.post(f"/services/{_find(c, name, project)['id']}/keys", body)
    if as_json:
        emit(done, as_json=True)
    else:
        print(done["key"])


@keys_app.command("revoke")
def keys_revoke(name: str, key_id: int, project: Project = None, as_json: JSON = False) -> None:
    c = Client()
    c.delete(f"/services/{_find(c, name, project)['id']}/keys/{key_id}")
    done(f"Revoked key {key_id}", {"revoked": "key", "id": key_id, "service": name}, as_json=as_json)
