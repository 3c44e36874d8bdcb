"""`aicc submit`, `aicc jobs`, `aicc job show`, `aicc logs`, `aicc cancel` — as Slurm users expect.

Kept light: only the HTTP client is imported on the submit path, so a loop of
``aicc submit`` costs little more than Python's own start-up.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from aicc.cli.client import Client, CliError, Exit
from aicc.cli.output import emit

job_app = typer.Typer(help="One job: show it.", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
JOB_COLS = ("id", "name", "user", "project", "state", "flavor", "accelerators", "elapsed", "time_limit", "reason")
JOB_HEADERS = ("JOBID", "NAME", "USER", "PROJECT", "STATE", "FLAVOR", "GPUS", "ELAPSED", "TIME_LIMIT", "REASON")


def time_limit_seconds(text: str) -> int:
    """2h, 90m, 45s, 1d, 30 (minutes, as sbatch), 1:30:00, 1-00:00:00."""
    from aicc.core.jobs import parse_time_limit

    try:
        return parse_time_limit(text)
    except ValueError as exc:
        raise CliError(f"--time: {exc}") from exc


def memory_mb(text: str) -> int:
    from aicc.core.jobs import parse_memory

    try:
        return parse_memory(text)
    except ValueError as exc:
        raise CliError(f"--mem: {exc}") from exc


def _project_by_name(c: Client, name: str) -> dict[str, Any]:
    from aicc.cli.lookup import project_by

    return project_by(c, name)


def submit(
    command: Annotated[list[str], typer.Argument(help="The command after `--`, or one script file (its #SBATCH "
                                                     "lines are read as sbatch reads them).")],
    project: Annotated[str | None, typer.Option("--account", "-A", "--project", help="Project to charge.")] = None,
    gpus: Annotated[int | None, typer.Option("--gpus", "-G", help="Accelerators for the whole job.")] = None,
    flavor: Annotated[str | None, typer.Option("--partition", "-p", "--flavor", help="Acceptable flavors, e.g. "
                                                "h100,a100 (without: the center's GPUs, or CPUs for --gpus 0; "
                                                "`any`: any accelerator).")] = None,
    cpus: Annotated[int | None, typer.Option("--cpus-per-task", "-c", "--cpus")] = None,
    mem: Annotated[str | None, typer.Option("--mem", help="Memory, e.g. 64G (default 4G).")] = None,
    time_limit: Annotated[str | None, typer.Option("--time", "-t", help="Limit, e.g. 2h or 1-00:00:00 "
                                                   "(default 1h).")] = None,
    priority: Annotated[int | None, typer.Option(help="-100..100, among your project's jobs.")] = None,
    array: Annotated[str | None, typer.Option("--array", "-a", help="Index spec, e.g. 0-99%10.")] = None,
    after: Annotated[list[int] | None, typer.Option("--after", help="Start after this job succeeded.")] = None,
    dependency: Annotated[str | None, typer.Option("--dependency", "-d", help="sbatch's form: afterok:12:13.")
                          ] = None,
    name: Annotated[str | None, typer.Option("--job-name", "-J", "--name")] = None,
    workload_class: Annotated[str | None, typer.Option("--class", help="Workload class for placement.")] = None,
    env: Annotated[list[str] | None, typer.Option("--env", help="KEY=VALUE, repeatable.")] = None,
    dataset: Annotated[list[str] | None, typer.Option("--dataset", help="Read a dataset under /data/NAME "
                                                      "(a sensitive one runs sandboxed; repeatable).")] = None,
    image: Annotated[str | None, typer.Option("--image", help="OCI image with a tag or digest, e.g. "
                                              "registry.example.org/team/pytorch:2.4 (default: the host's system).")
                     ] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", help="Accepted as sbatch does; AICC keeps each "
                                               "job's output itself: read it with `aicc logs JOB`.")] = None,
    error: Annotated[str | None, typer.Option("--error", "-e", help="As --output, for stderr "
                                              "(`aicc logs JOB --stderr`).")] = None,
    tasks_per_node: Annotated[int | None, typer.Option("--ntasks-per-node", "--tasks-per-node", min=1,
                                                       help="Processes per node (a job over several nodes runs "
                                                       "one per node; e.g. 4 for one per GPU).")] = None,
    mpi: Annotated[bool, typer.Option("--mpi", help="Start the tasks under the center's MPI launcher.")] = False,
    notify: Annotated[str | None, typer.Option("--notify", "--mail-type", help="Tell me when it ends: end, fail "
                                               "or end,fail (email and webhooks; sbatch's END, FAIL, ALL too).")
                      ] = None,
    wait: Annotated[bool, typer.Option("--wait", "-W", help="Wait until the job (every task of an array) has "
                                       "ended, as sbatch --wait; exit 1 unless all succeeded.")] = False,
    as_json: JSON = False,
) -> None:
    """Submit a job; prints its id at once (`Submitted job 42`)."""
    from aicc.cli import sbatch

    script = Path(command[0]) if len(command) == 1 else None
    text = None
    if script is not None and script.is_file() and not command[0].startswith("-"):
        text = script.read_text(encoding="utf-8", errors="replace")
    given = {"project": project, "flavor": flavor, "name": name, "time": time_limit, "cpus": cpus, "mem": mem,
             "array": array, "dependency": dependency, "gpus": gpus, "priority": priority, "output": output,
             "error": error, "tasks_per_node": tasks_per_node, "notify": notify}
    opts = {k: v for k, v in given.items() if v is not None}
    if text is not None:
        directives = sbatch.read(text)
        for key, value in directives.options.items():
            opts.setdefault(key, value)  # the command line wins, as with sbatch
        if directives.unknown:
            print(f"warning: {script}: #SBATCH {' '.join(directives.unknown)}: not known to AICC, ignored",
                  file=sys.stderr)
    if "gres" in opts and "gpus" not in opts:
        try:
            opts["gpus"] = sbatch.gres_gpus(str(opts["gres"]))
            typed = sbatch.gres_type(str(opts["gres"]))
            if typed is not None:
                opts.setdefault("flavor", typed)
        except ValueError as exc:
            raise CliError(str(exc)) from exc
    if "output" in opts or "error" in opts:
        print("note: AICC keeps each job's output with the job (-o/-e paths are not written): "
              "read it with `aicc logs JOB`", file=sys.stderr)
    depends = list(after or [])
    if opts.get("dependency"):
        try:
            depends += sbatch.dependency(str(opts["dependency"]))
        except ValueError as exc:
            raise CliError(str(exc)) from exc
    try:
        gpus_n, cpus_n = int(opts.get("gpus") or 0), int(opts.get("cpus") or 1)
        prio, tasks = int(opts.get("priority") or 0), int(opts.get("tasks_per_node") or 1)
    except ValueError as exc:
        raise CliError(f"#SBATCH: {exc}") from exc
    try:
        notify_kinds = sbatch.notify_kinds(str(opts.get("notify") or ""))
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    c = Client()
    flavors = str(opts.get("flavor") or "")
    body: dict[str, Any] = {
        "accelerators": gpus_n, "cpus": cpus_n, "memory_mb": memory_mb(str(opts.get("mem") or "4G")),
        "time_limit_s": time_limit_seconds(str(opts.get("time") or "1h")), "priority": prio,
        "flavors": [f.strip().lower() for f in flavors.split(",") if f.strip()],
        "depends_on": depends, "env": {}, "array": opts.get("array"), "name": opts.get("name"),
        "workload_class": workload_class, "datasets": dataset or [], "image": image,
        "tasks_per_node": tasks, "mpi": mpi,
        "notify": notify_kinds,
    }
    for item in env or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"--env {item!r}: write KEY=VALUE")
        body["env"][key] = value
    if text is not None and script is not None:
        body["script"] = text
        body["name"] = body["name"] or "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in script.name)
    else:
        body["command"] = command
        _warn_local_files(command)
    chosen = opts.get("project")
    if chosen is None:
        me = c.get("/users/me")
        if len(me["projects"]) != 1:
            raise CliError("you are in several projects (or none): say which with -A/--account")
        body["project_id"] = me["projects"][0]
    else:
        body["project"] = chosen
    done = c.post("/jobs", {k: v for k, v in body.items() if v is not None})
    if as_json and not wait:
        emit(done, as_json=True)
    elif done["array_id"]:
        print(f"Submitted array job {done['array_id']} ({len(done['ids'])} tasks: {done['ids'][0]}-{done['ids'][-1]})",
              file=sys.stderr if as_json else sys.stdout, flush=True)
    else:
        print(f"Submitted job {done['id']}", file=sys.stderr if as_json else sys.stdout, flush=True)
    if wait:
        ended = [wait_for(c, job_id) for job_id in done["ids"]]
        if as_json:
            emit(ended, as_json=True)
        else:
            for job in ended:
                print(f"job {job['id']} {job['state']}")
        for job in ended:
            _exit_as(job)


def _warn_local_files(command: list[str]) -> None:
    """`aicc submit -- python3 train.py` sends the command, not train.py: the job runs in its own folder (in
    the data zone, in a sandbox), where a path relative to here means nothing. Say so, and how to send it."""
    local = [a for a in command[1:] if not a.startswith(("-", "/")) and Path(a).is_file()]
    if local:
        print(f"note: {local[0]} is a file here, but only the command is sent; the job runs in its own folder. "
              f"To send the file, submit it (with a #! line): aicc submit {local[0]}", file=sys.stderr)


def _rows(c: Client, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names: dict[int, str] = {}
    now = time.time()
    for j in jobs:
        if j["project_id"] not in names:
            names[j["project_id"]] = c.get(f"/projects/{j['project_id']}")["name"]
        j["project"] = names[j["project_id"]]
        j["time_limit"] = _hms(j["time_limit_s"])
        j["elapsed"] = _hms(int(_elapsed(j, now)))
        if j["array_id"] is not None:
            j["name"] = f"{j['name']}[{j['array_index']}]"
    return jobs


def _elapsed(job: dict[str, Any], now: float) -> float:
    """Seconds the current attempt has run (squeue's TIME): 0 until it starts, frozen when it ends."""
    import datetime as dt

    if not job.get("started_at"):
        return 0.0
    start = dt.datetime.fromisoformat(job["started_at"]).timestamp()
    end = dt.datetime.fromisoformat(job["ended_at"]).timestamp() if job.get("ended_at") else now
    return max(0.0, end - start)


def _hms(seconds: int) -> str:
    d, rest = divmod(seconds, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return (f"{d}-" if d else "") + f"{h:02d}:{m:02d}:{s:02d}"


PAGE = 500
"""The API's largest page; `aicc jobs` asks for as many pages as --limit needs."""


def jobs(
    project: Annotated[str | None, typer.Option("--account", "-A", "--project",
                                                help="Only this project's jobs (squeue's -A).")] = None,
    state: Annotated[list[str] | None, typer.Option("--state", "-t", "-s",
                                                    help="pending, running, … (repeatable; squeue's -t)")] = None,
    all_states: Annotated[bool, typer.Option("--all", help="Include finished jobs.")] = False,
    mine: Annotated[bool, typer.Option("--mine", "--me", help="Only jobs you submitted.")] = False,
    limit: Annotated[int, typer.Option(min=0, help="At most this many (newest first), fetched page by page; "
                                              "0: all of them.")] = 200,
    cursor: Annotated[str | None, typer.Option("--cursor", help="The next page, as the notice says.")] = None,
    as_json: JSON = False,
) -> None:
    """Your projects' jobs, newest first (active ones unless --all or --state), with who submitted each and how
    long it has run; says when more are older."""
    from aicc.cli.output import plain

    c = Client()
    states = state or ([] if all_states else ["pending", "admitted", "running"])
    params: dict[str, Any] = {"state": states, "mine": mine or None, "order": "desc"}
    if project:
        params["project_id"] = _project_by_name(c, project)["id"]
    items: list[dict[str, Any]] = []
    while True:  # the API's pages, until --limit is reached or the list ends
        size = PAGE if limit == 0 else min(PAGE, limit - len(items))
        page = c.get("/jobs", **params, limit=size, cursor=cursor)
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor or (limit and len(items) >= limit):
            break
    if as_json:
        emit(items, as_json=True)
        return
    plain(_rows(c, items), JOB_COLS, JOB_HEADERS)
    if cursor:
        again = " ".join(a for a in sys.argv[1:] if not a.startswith("--cursor"))
        print(f"the newest {len(items)} shown; older jobs: aicc {again} --cursor {cursor}", file=sys.stderr)


@job_app.command("show")
def job_show(job_id: int, as_json: JSON = False) -> None:
    """Everything about one job, with the reason it waits or how it ended."""
    c = Client()
    job = c.get(f"/jobs/{job_id}")
    if as_json:
        emit(job, as_json=True)
        return
    _rows(c, [job])
    for key in ("command", "flavors", "placement", "depends_on"):
        job[key] = " ".join(map(str, job[key])) if isinstance(job[key], list) else job[key]
    if job.get("flavor"):
        job["placement_reason"] = c.get(f"/bench/explain/{job_id}")["explanation"]
    emit(job, as_json=False)


def logs(
    job_id: int,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until the job ends.")] = False,
    stderr: Annotated[bool, typer.Option("--stderr", help="The error stream instead of stdout.")] = False,
    rank: Annotated[int | None, typer.Option("--rank", min=0, help="Only this rank of a multi-node job (by "
                                             "default all ranks, each line labelled with its rank).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (job, stream, data, size, "
                                          "finished) once all is read (with -f: once the job has ended).")
                       ] = False,
) -> None:
    """Print a job's output (like `tail -f` with -f)."""
    c = Client()
    stream = "stderr" if stderr else "stdout"
    offset = 0
    by_rank = {"rank": rank} if rank is not None else {}
    text: list[str] = []

    def out(data: str) -> None:
        if as_json:
            text.append(data)
        else:
            sys.stdout.write(data)
            sys.stdout.flush()

    while True:
        chunk = c.get(f"/jobs/{job_id}/logs", stream=stream, offset=offset, limit=1 << 20, **by_rank)
        out(chunk["data"])
        offset = chunk["next_offset"]
        if chunk["next_offset"] < chunk["size"]:
            continue
        if not follow or chunk["finished"]:
            job = None
            if follow:  # one last read after the end: output written just before it
                last = c.get(f"/jobs/{job_id}/logs", stream=stream, offset=offset, limit=1 << 20, **by_rank)
                out(last["data"])
                chunk = {**last, "offset": 0}
                job = c.get(f"/jobs/{job_id}")
            if as_json:
                emit({"job": job_id, "stream": stream, "data": "".join(text), "size": chunk["size"],
                      "finished": chunk["finished"]}, as_json=True)
            if job is not None:
                _exit_as(job)
            return
        time.sleep(0.5)


def _exit_as(job: dict[str, Any]) -> None:
    """End as the job ended, like `srun`: 0 when it succeeded, otherwise 1 with how it ended on stderr."""
    if job["state"] != "succeeded":
        code = f", exit code {job['exit_code']}" if job.get("exit_code") is not None else ""
        print(f"job {job['id']} {job['state']}{code}: {job['reason']}", file=sys.stderr)
        raise typer.Exit(Exit.JOB_FAILED)


TERMINAL = ("succeeded", "failed", "cancelled", "timed_out")


def wait_for(c: Client, job_id: int, timeout: float = 0) -> dict[str, Any]:
    """The job once it has ended (polled, backing off to every 2 s); CliError(JOB_FAILED) past ``timeout``."""
    deadline = time.monotonic() + timeout if timeout > 0 else None
    delay = 0.2
    while (job := c.get(f"/jobs/{job_id}"))["state"] not in TERMINAL:
        if deadline is not None and time.monotonic() > deadline:
            raise CliError(f"job {job_id} is still {job['state']} after {timeout:g} s: {job['reason']}",
                           Exit.JOB_FAILED)
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)
    return job  # type: ignore[no-any-return]


@job_app.command("wait")
def job_wait(
    job_id: int,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds (0: never).")] = 0,
    as_json: JSON = False,
) -> None:
    """Wait until a job has ended; exit 0 if it succeeded, 1 otherwise (also for a sandboxed job, whose logs
    are held)."""
    job = wait_for(Client(), job_id, timeout)
    if as_json:
        emit(job, as_json=True)
    else:
        print(f"job {job_id} {job['state']}")
    _exit_as(job)


def cancel(
    job_ids: Annotated[list[int], typer.Argument(help="Job ids.")],
    array: Annotated[bool, typer.Option("--array", help="Cancel every task of the job's array.")] = False,
    as_json: JSON = False,
) -> None:
    """Cancel jobs: pending ones at once, running ones get SIGTERM, then SIGKILL after the grace period."""
    c = Client()
    changed_all: list[dict[str, Any]] = []
    for job_id in job_ids:
        changed = c.request("POST", f"/jobs/{job_id}/cancel", params={"array": array})
        changed_all += changed
        if not as_json:
            print(f"job {job_id}: cancel requested for {len(changed)} job(s)" if changed
                  else f"job {job_id}: already finished")
    if as_json:
        emit(changed_all, as_json=True)
