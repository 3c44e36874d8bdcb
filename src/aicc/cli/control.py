"""`aicc hold`, `aicc release`, `aicc requeue`, `aicc update`: Slurm's ``scontrol`` verbs on your own jobs.

Each is one API call (``POST /jobs/{id}/hold`` …, ``PATCH /jobs/{id}``); the server checks who may, and which
state allows it (only a pending job is held, released or updated), so a refusal reads the server's words and
exits 4 like any refused request.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from aicc.cli.client import Client, CliError
from aicc.cli.output import emit

JSON = Annotated[bool, typer.Option("--json", help="Print the changed jobs as JSON.")]
JobIds = Annotated[list[int], typer.Argument(help="Job ids.")]


def _each(verb: str, job_ids: list[int], as_json: bool, say: str) -> None:
    c = Client()
    changed: list[dict[str, Any]] = []
    for job_id in job_ids:
        job = c.post(f"/jobs/{job_id}/{verb}", {})
        changed.append(job)
        if not as_json:
            print(f"job {job_id}: {say}: {job['reason']}")
    if as_json:
        emit(changed, as_json=True)


def hold(job_ids: JobIds, as_json: JSON = False) -> None:
    """Keep pending jobs from starting until released (`scontrol hold`)."""
    _each("hold", job_ids, as_json, "held")


def release(job_ids: JobIds, as_json: JSON = False) -> None:
    """Let held jobs be scheduled again, in their original place in the queue (`scontrol release`)."""
    _each("release", job_ids, as_json, "released")


def requeue(job_ids: JobIds, as_json: JSON = False) -> None:
    """Run jobs again as a new attempt (`scontrol requeue`): an ended one is pending again at once, a running
    one is stopped (SIGTERM, grace, SIGKILL) and then queued in its original place."""
    _each("requeue", job_ids, as_json, "requeued")


def update(
    job_id: int,
    time_limit: Annotated[str | None, typer.Option("--time", "-t", help="New limit, e.g. 2h or 1-00:00:00.")] = None,
    priority: Annotated[int | None, typer.Option(min=-100, max=100, help="-100..100, among your project's jobs."
                                                 )] = None,
    flavor: Annotated[str | None, typer.Option("--partition", "-p", "--flavor", help="Acceptable flavors, e.g. "
                                               "h100,a100.")] = None,
    gpus: Annotated[int | None, typer.Option("--gpus", "-G", min=0, help="Accelerators for the whole job.")] = None,
    cpus: Annotated[int | None, typer.Option("--cpus-per-task", "-c", "--cpus", min=1)] = None,
    mem: Annotated[str | None, typer.Option("--mem", help="Memory, e.g. 64G.")] = None,
    name: Annotated[str | None, typer.Option("--job-name", "-J", "--name")] = None,
    as_json: JSON = False,
) -> None:
    """Change a pending job (`scontrol update`): time limit, priority, flavors, size, name. Checked as at
    submit; a job that has started cannot change (requeue it, or submit anew)."""
    from aicc.cli.jobs import memory_mb, time_limit_seconds

    body: dict[str, Any] = {"priority": priority, "accelerators": gpus, "cpus": cpus, "name": name}
    if time_limit is not None:
        body["time_limit_s"] = time_limit_seconds(time_limit)
    if mem is not None:
        body["memory_mb"] = memory_mb(mem)
    if flavor is not None:
        body["flavors"] = [f.strip().lower() for f in flavor.split(",") if f.strip()]
    body = {k: v for k, v in body.items() if v is not None}
    if not body:
        raise CliError("say what to change: --time, --priority, --partition, --gpus, --cpus, --mem or --job-name")
    job = Client().patch(f"/jobs/{job_id}", body)
    if as_json:
        emit(job, as_json=True)
        return
    print(f"job {job_id} updated: " + ", ".join(f"{k} {job[k]}" for k in body))
