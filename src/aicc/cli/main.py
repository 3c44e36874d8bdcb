"""`aicc`: the command line of an AI computing center.

Everything but ``server``, ``db`` and ``demo`` talks to the REST API over HTTP, so
the same CLI drives a remote center. Heavy modules (the server, SQLAlchemy,
Rich) are imported inside the commands that need them, to keep start-up fast.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from aicc.cli.client import CliError

if TYPE_CHECKING:
    from fastapi import FastAPI

app = typer.Typer(
    name="aicc",
    help="AICC — a shared public AI computing center: allocations, jobs, data zone.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)
db_app = typer.Typer(help="Database set-up on the server machine.", no_args_is_help=True)
app.add_typer(db_app, name="db")

# The other commands live in their own modules and are imported only when run: building every command's
# options (Typer reads ~150 signatures) cost most of `aicc submit`'s start-up. name -> (module, attribute,
# a group of commands or one command, its one-line help for `aicc --help`).
LAZY: dict[str, tuple[str, str, bool, str]] = {
    "submit": ("aicc.cli.jobs", "submit", False, "Submit a job; prints its id at once (`Submitted job 42`)."),
    "jobs": ("aicc.cli.jobs", "jobs", False, "Your projects' jobs, newest first."),
    "job": ("aicc.cli.jobs", "job_app", True, "One job: show it, wait for it."),
    "logs": ("aicc.cli.jobs", "logs", False, "Print a job's output (like `tail -f` with -f)."),
    "cancel": ("aicc.cli.jobs", "cancel", False, "Cancel jobs."),
    "hold": ("aicc.cli.control", "hold", False, "Keep pending jobs from starting until released."),
    "release": ("aicc.cli.control", "release", False, "Let held jobs be scheduled again."),
    "requeue": ("aicc.cli.control", "requeue", False, "Run jobs again as a new attempt."),
    "update": ("aicc.cli.control", "update", False, "Change a pending job: time limit, priority, flavors, size."),
    "usage": ("aicc.cli.usage", "usage", False, "Service units per allocation: budget, used, burn rate, projection."),
    "session": ("aicc.cli.sessions", "app", True, "Interactive sessions (JupyterLab, terminals)."),
    "reservation": ("aicc.cli.reservations", "app", True, "Class hours: capacity held for a course or project."),
    "serve": ("aicc.cli.serve", "app", True, "Always-on services behind the gateway at /svc/<project>/<name>/."),
    "ws": ("aicc.cli.workspaces", "app", True, "Your project's workspace (/workspace in its jobs)."),
    "datasets": ("aicc.cli.datazone", "datasets_app", True, "Datasets held by custodians (secure data zone)."),
    "grants": ("aicc.cli.datazone", "grants_app", True, "Grants: a project's access to a sensitive dataset."),
    "outputs": ("aicc.cli.datazone", "outputs_app", True, "Outputs of sensitive jobs, released by the custodian."),
    "admin": ("aicc.cli.admin", "app", True, "Administer the center (center and organization admins)."),
    "token": ("aicc.cli.records", "token_app", True, "Your API tokens."),
    "audit": ("aicc.cli.records", "audit_app", True, "The tamper-evident audit log."),
    "invitations": ("aicc.cli.invitations", "app", True, "Invitations to join an organization."),
    "programs": ("aicc.cli.programs", "app", True, "Support programs, calls, decisions (center admins)."),
    "apply": ("aicc.cli.apply", "apply_app", True, "Apply to a call (organization admins)."),
    "review": ("aicc.cli.review", "review_app", True, "Your review assignments (reviewers)."),
    "bench": ("aicc.cli.bench", "app", True, "Accelerator testbed: benchmarks as jobs, results, the matrix."),
    "sim": ("aicc.cli.sim", "app", True, "Replay cluster traces through the live policy; size a center."),
}
_SETTINGS = {"submit": {"allow_interspersed_args": False}}


def register(name: str) -> None:
    """Add the real command ``name`` (importing its module) to :data:`app`."""
    import importlib

    module, attr, group, _ = LAZY[name]
    target = getattr(importlib.import_module(module), attr)
    if group:
        app.add_typer(target, name=name)
    else:
        app.command(name, context_settings=_SETTINGS.get(name))(target)


def register_all() -> typer.Typer:
    """Every command, for completion, documentation and tests that drive the whole tree."""
    for name in LAZY:
        if name not in _registered():
            register(name)
    return app


def _registered() -> set[str]:
    named = {c.name or getattr(c.callback, "__name__", "") for c in app.registered_commands}
    return named | {g.name for g in app.registered_groups if g.name}


def _placeholders() -> None:
    """Names and one-line help only, for `aicc --help`: nothing imported."""
    for name, (_, _, group, text) in LAZY.items():
        if group:
            app.add_typer(typer.Typer(help=text), name=name)
        else:
            app.command(name, help=text, add_help_option=False)(_not_loaded)


def _not_loaded() -> None:  # pragma: no cover - replaced before it could run
    raise CliError("internal: command not loaded")


JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"aicc {version('aicc')}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """AICC — a shared public AI computing center: allocations, jobs, data zone."""


@app.command()
def server(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker threads for request handlers.")] = 40,
    processes: Annotated[int, typer.Option(help="Server processes sharing the port; one of them is elected "
                                                 "controller by the controller lock, the others wake it.")] = 1,
) -> None:
    """Serve the REST API (and, as they land, the controller and the portal)."""
    import os

    import uvicorn

    os.environ["AICC_HTTP_THREADS"] = str(workers)
    if processes > 1:  # each process builds its own app (the factory)
        import subprocess

        from aicc.config import load_settings

        # The controller in a process of its own (elected by the lock, as any controller): the API workers
        # never wait on it for the interpreter lock, and poke it after each submission.
        helper = subprocess.Popen([sys.executable, "-c", "from aicc.cli.main import main; main()", "controller"]) \
            if load_settings().controller else None
        os.environ["AICC_CONTROLLER"] = "off"
        try:
            uvicorn.run("aicc.cli.main:serving_app", factory=True, host=host, port=port, log_level="info",
                        access_log=False, workers=processes)
        finally:
            if helper is not None:
                helper.terminate()
                helper.wait(timeout=60)
        return
    uvicorn.run(serving_app(), host=host, port=port, log_level="info", access_log=False)


@app.command("controller")
def controller_only() -> None:
    """Run the scheduling controller alone, without the HTTP API (``aicc server --processes N`` starts one
    beside its API workers). Stops on SIGTERM or Ctrl-C."""
    import signal
    import threading

    from sqlalchemy.exc import DBAPIError

    from aicc.config import load_settings
    from aicc.controller.loop import Controller
    from aicc.services import audit
    from aicc.services.audit_seal import AuditSeal
    from aicc.store.db import Database

    settings = load_settings()
    db = Database(settings.database_url)
    db.audit_seal = AuditSeal.from_settings(settings)
    try:
        with db.write() as s:
            audit.start(s)
    except DBAPIError:
        pass  # not migrated yet: the first audited write keys the chain
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    controller = Controller(settings, db)
    controller.start()
    stop.wait()
    controller.stop()
    db.audit_seal.flush()


def serving_app() -> FastAPI:
    """The app as ``aicc server`` runs it, in each server process."""
    import os

    import anyio.to_thread

    from aicc.api.app import create_app

    workers = int(os.environ.get("AICC_HTTP_THREADS", "40"))

    async def _threads() -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = workers

    # Hand the interpreter between threads every 0.5 ms instead of 5 ms: a submission waits on the
    # group-commit thread, and the default interval added milliseconds to every request.
    sys.setswitchinterval(0.0005)
    application = create_app()
    application.router.on_startup.append(_threads)
    # The long-lived objects (modules, routes, models) out of the collector's way, and fewer full
    # collections: a gen-2 pass over them stalled every request in flight for tens of milliseconds.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    return application


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest version."""
    from aicc.config import load_settings
    from aicc.store.db import Database
    from aicc.store.migrate import upgrade

    settings = load_settings()
    database = Database(settings.database_url)
    upgrade(database.engine)
    database.dispose()
    print(f"database at {settings.database_url} is up to date")


@db_app.command("bootstrap")
def db_bootstrap(username: Annotated[str, typer.Option(help="The first center admin.")] = "admin") -> None:
    """Create the first center admin in an empty database and print their API token once."""
    from aicc.config import load_settings
    from aicc.demo import bootstrap_admin
    from aicc.store.db import Database

    database = Database(load_settings().database_url)
    try:
        token = bootstrap_admin(database, username)
    except RuntimeError as exc:
        raise CliError(str(exc)) from exc
    print(f"center admin {username!r} created. API token (shown only now):\n{token}")


@app.command("demo")
def demo(
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Do nothing if the database has users.")] = False,
    url: Annotated[str, typer.Option(help="Where `aicc login` should point.")] = "http://127.0.0.1:8000",
) -> None:
    """Load the demo center (inventory, two organizations, projects, allocations) into an empty database."""
    from aicc.cli.client import config_dir, save_credentials
    from aicc.config import load_settings
    from aicc.demo import is_empty, load_demo
    from aicc.store.db import Database

    settings = load_settings()
    database = Database(settings.database_url)
    if not is_empty(database):
        if if_empty:
            print("database already has data; demo not loaded. The tokens and the password printed when it was "
                  "loaded still work. Lost them? The admin token was saved for this CLI "
                  f"({config_dir() / 'credentials.json'}); with it, `aicc token create --user bob --name laptop` "
                  "prints a new token and `aicc admin users set-password bob` sets a new portal password. Or start "
                  "afresh: stop the server, `rm -r var` (deletes the demo's data), `make run`.")
            return
        raise CliError("the database is not empty; the demo loads only into an empty one")
    loaded = load_demo(database, settings)
    path = save_credentials(url, loaded.admin_token)
    print("demo center loaded: site gwangju, 4 flavors, 7 nodes, 3 organizations, 2 projects, 2 allocations, "
          "1 sensitive dataset (cxr-cohort, granted to jnu-vision; custodian erin)")
    print(f"admin API token (shown only now; also saved for this CLI in {path}):\n{loaded.admin_token}")
    for user, token in loaded.member_tokens.items():
        print(f"token for {user}: {token}")
    print(f"portal ({url}/): sign in as admin, alice, bob, chul, dana, erin, yuna or jiho with password "
          f"{loaded.portal_password}")


@app.command("discover")
def discover(
    as_json: Annotated[bool, typer.Option("--json", help="Devices as JSON.")] = False,
    slurm: Annotated[bool, typer.Option("--slurm", help="Read a Slurm cluster ($AICC_SLURM_DIR) instead.")] = False,
) -> None:
    """List this machine's accelerators (NVIDIA by NVML, NPUs by their tools) and print inventory tables for
    them, to review and load."""
    import dataclasses
    import json

    from aicc.executors.discovery import slurm_inventory_toml

    if slurm:
        from aicc.config import load_settings
        from aicc.executors.slurm import SlurmConfig, read_inventory

        config = SlurmConfig.from_cluster_dir(load_settings().slurm_dir)
        found = read_inventory(config)
        if as_json:
            print(json.dumps([dataclasses.asdict(n) for n in found], indent=2))
            return
        skipped = [n.name for n in found if n.flavor is None]
        rows = [(n.name, n.flavor, n.gres_type is None, n.accelerators, n.cpus, n.memory_mb)
                for n in found if n.flavor is not None]
        print(f"# {len(rows)} Slurm node(s)" + (f"; no flavor for {', '.join(skipped)}" if skipped else ""))
        print(slurm_inventory_toml(rows))
        return

    from aicc.testbed import devices

    accelerators = [d for d in devices.all_devices() if d.vendor != "cpu"]
    if as_json:
        print(json.dumps([dataclasses.asdict(d) for d in accelerators], indent=2))
        return
    none = "" if accelerators else "; describing this host as CPU only"
    print(f"# {len(accelerators)} accelerator(s) found{none}")
    print(devices.inventory_toml(accelerators))


COMPLETE_VAR = "_AICC_COMPLETE"
"""Set by the completion script (``aicc completion bash``) when the shell asks for completions."""


@app.command("completion")
def completion(shell: Annotated[str, typer.Argument(help="bash, zsh or fish.")] = "bash") -> None:
    """Print the shell completion script: add `eval "$(aicc completion bash)"` to ~/.bashrc (zsh, fish: the
    same with their name). Commands and their options then complete on Tab."""
    from typer._completion_shared import get_completion_script

    if shell not in ("bash", "zsh", "fish"):
        raise CliError(f"completion: {shell!r}: say bash, zsh or fish")
    print(get_completion_script(prog_name="aicc", complete_var=COMPLETE_VAR, shell=shell))


@app.command()
def login(
    url: Annotated[str, typer.Option(help="The center's address.")] = "http://127.0.0.1:8000",
    token: Annotated[str | None, typer.Option(help="API token (asked for if omitted).")] = None,
) -> None:
    """Check a token against the center and save it (file mode 0600) for later commands."""
    from aicc.cli.client import Client, save_credentials

    if token is None:
        token = typer.prompt("API token", hide_input=True)
    me = Client(url, token).get("/users/me")
    path = save_credentials(url, token)
    print(f"logged in to {url} as {me['username']}; credentials saved in {path}")


@app.command()
def whoami(as_json: JSON = False) -> None:
    """Who the saved token belongs to, and their roles."""
    from aicc.cli.client import Client
    from aicc.cli.output import emit

    me = Client().get("/users/me")
    emit(me, as_json=as_json)


def main() -> None:
    from aicc.cli import fastparams

    fastparams.install()  # plain options coerced without importing pydantic
    words = [a for a in sys.argv[1:] if not a.startswith("-")]
    if COMPLETE_VAR in os.environ:  # the shell asks what may come next: every command, with its options
        from typer._completion_classes import completion_init

        completion_init()
        register_all()
    elif words and words[0] in LAZY:
        register(words[0])  # only the command being run
    elif not words or words[0] not in _registered():
        _placeholders()  # `aicc --help`, or a typo: the list of commands, fast
    try:
        app()
    except CliError as exc:
        print(f"aicc: {exc}", file=sys.stderr)
        sys.exit(exc.code)


if __name__ == "__main__":
    main()
