"""`aicc bench`: run MLPerf-style benchmarks as jobs, ingest, list and compare results, export the matrix.

Also `aicc bench devices`, which probes this machine itself (no server needed).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from aicc.cli.client import Client, CliError, Exit
from aicc.cli.output import emit

app = typer.Typer(help="Accelerator testbed: benchmarks as jobs, results, the throughput matrix.",
                  no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
RESULT_COLS = ("id", "job_id", "workload", "scenario", "flavor", "valid", "metric", "value", "samples_per_s",
               "p90_ms", "p99_ms", "accuracy", "energy_j_per_sample", "invalid_reasons")
COMPARE_COLS = ("flavor", "scenario", "metric", "value", "samples_per_s_per_unit", "samples_per_su", "vs_best",
                "p90_ms", "p99_ms", "j_per_sample", "accuracy", "device", "result")
TERMINAL = ("succeeded", "failed", "cancelled", "timed_out")


@app.command("run")
def run(
    flavor: Annotated[str, typer.Option("--flavor", help="The flavor to measure.")],
    workload: Annotated[str, typer.Option("--workload", "-w", help="See `aicc bench workloads`.")],
    scenario: Annotated[list[str] | None, typer.Option(
        "--scenario", "-s", help="SingleStream, MultiStream, Server, Offline or all (repeatable).")] = None,
    project: Annotated[str | None, typer.Option("--project", "-p", help="Project to charge.")] = None,
    gpus: Annotated[int, typer.Option("--gpus", "-G", help="Accelerators (ignored on a CPU flavor).")] = 1,
    cpus: Annotated[int, typer.Option("--cpus", "-c")] = 1,
    duration_ms: Annotated[int, typer.Option("--duration-ms", help="LoadGen minimum duration per run.")] = 10_000,
    max_batch: Annotated[int, typer.Option("--max-batch", help="Largest batch the SUT forms (1: none).")] = 16,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the job, then ingest and show its result.")] = False,
    as_json: JSON = False,
) -> None:
    """Submit a benchmark job (an ordinary AICC job, charged to the project) on one flavor."""
    c = Client()
    scenarios = [s for item in (scenario or ["Offline"]) for s in item.split(",") if s]
    if "all" in scenarios:
        scenarios = ["SingleStream", "MultiStream", "Server", "Offline"]
    body: dict[str, Any] = {"flavor": flavor, "workload": workload, "scenarios": scenarios, "accelerators": gpus,
                            "cpus": cpus, "duration_ms": duration_ms, "max_batch": max_batch}
    if project is None:
        me = c.get("/users/me")
        if len(me["projects"]) != 1:
            raise CliError("you are in several projects (or none): say which with --project")
        body["project_id"] = me["projects"][0]
    else:
        body["project"] = project
    job_id = c.post("/bench/runs", body)["job_id"]
    if not wait:
        emit({"job_id": job_id}, as_json=True) if as_json else print(
            f"Submitted benchmark job {job_id}; its result is stored when it ends (aicc bench list)")
        return
    while (job := c.get(f"/jobs/{job_id}"))["state"] not in TERMINAL:
        time.sleep(1.0)
    if job["state"] not in ("succeeded", "failed"):
        raise CliError(f"benchmark job {job_id} {job['state']}: {job['reason']}", Exit.JOB_FAILED)
    rows = c.post("/bench/results/ingest", {"job_id": job_id})
    emit(rows, as_json=as_json, columns=RESULT_COLS)


@app.command("ingest")
def ingest(
    job_ids: Annotated[list[int] | None, typer.Argument(help="Finished benchmark jobs.")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="A bench-result.json from outside (admins).")] = None,
    as_json: JSON = False,
) -> None:
    """Store the results of finished benchmark jobs (the controller does this when they end; idempotent), or a
    result file measured elsewhere."""
    c = Client()
    rows: list[Any] = []
    for job_id in job_ids or []:
        rows += c.post("/bench/results/ingest", {"job_id": job_id})
    if file is not None:
        rows += c.post("/bench/results", json.loads(file.read_text(encoding="utf-8")))
    if not job_ids and file is None:
        raise CliError("give job ids or --file")
    emit(rows, as_json=as_json, columns=RESULT_COLS)


def _filters(workload_class: str | None, flavor: str | None, scenario: str | None,
             workload: str | None) -> dict[str, Any]:
    return {"workload_class": workload_class, "flavor": flavor, "scenario": scenario, "workload": workload}


@app.command("list")
def list_results(
    workload_class: Annotated[str | None, typer.Option("--class")] = None,
    flavor: Annotated[str | None, typer.Option("--flavor")] = None,
    scenario: Annotated[str | None, typer.Option("--scenario")] = None,
    workload: Annotated[str | None, typer.Option("--workload")] = None,
    valid_only: Annotated[bool, typer.Option("--valid", help="Only valid results.")] = False,
    as_json: JSON = False,
) -> None:
    """Stored results, newest first, invalid ones with their reasons."""
    rows = Client().get("/bench/results", **_filters(workload_class, flavor, scenario, workload),
                        valid=True if valid_only else None)
    emit(rows, as_json=as_json, columns=RESULT_COLS)


@app.command("compare")
def compare(
    workload_class: Annotated[str | None, typer.Option("--class", help="Workload class to compare.")] = None,
    workload: Annotated[str | None, typer.Option("--workload")] = None,
    scenario: Annotated[str | None, typer.Option("--scenario")] = None,
    as_json: JSON = False,
) -> None:
    """Flavors side by side: newest valid result each, samples per SU, and the ratio to the best."""
    from aicc.core.benchmarks import compare_rows

    if not workload_class and not workload:
        raise CliError("give --class or --workload")
    c = Client()
    results = c.get("/bench/results", **_filters(workload_class, None, scenario, workload), limit=500)
    rates = c.get("/bench/matrix")["su_rates"]
    rows = compare_rows(results, rates)
    invalid = sum(1 for r in results if not r["valid"])
    emit(rows, as_json=as_json, columns=COMPARE_COLS,
         title=f"{workload_class or workload}: {invalid} invalid result(s) not ranked; energy is accelerator-board "
               "energy, not MLPerf Power")


@app.command("matrix")
def matrix(
    export: Annotated[Path | None, typer.Option("--export", help="Write JSON for `aicc sim run --matrix`.")] = None,
    as_json: JSON = False,
) -> None:
    """The throughput matrix (class × flavor, samples/s per unit) the scheduler places by."""
    m = Client().get("/bench/matrix")
    if export is not None:
        export.write_text(json.dumps(m, indent=2), encoding="utf-8")
        print(f"matrix written to {export}")
        return
    if as_json:
        emit(m, as_json=True)
        return
    rows = [{"class": cls, "flavor": f, "samples_per_s_per_unit": v,
             "samples_per_su": m["samples_per_su"].get(cls, {}).get(f)}
            for cls, row in sorted(m["matrix"].items()) for f, v in sorted(row.items())]
    emit(rows, as_json=False, columns=("class", "flavor", "samples_per_s_per_unit", "samples_per_su"))


@app.command("workloads")
def workloads(as_json: JSON = False) -> None:
    """Workloads the server knows (built-in and plugins)."""
    found = Client().get("/bench/workloads")
    emit([{"workload": k, "from": v} for k, v in found.items()], as_json=as_json, columns=("workload", "from"))


@app.command("devices")
def devices(
    inventory: Annotated[bool, typer.Option(
        "--inventory", help="Print inventory TOML for them (review, then `aicc admin inventory load`).")] = False,
    as_json: JSON = False,
) -> None:
    """Accelerators on *this* machine (NVML, furiosa-smi, rbln-stat, CPU) with live figures."""
    import dataclasses

    from aicc.testbed.devices import all_devices, flavor_of, inventory_toml

    probed = all_devices()
    if inventory:
        print(inventory_toml(probed))
        return
    found = [dataclasses.asdict(d) | {"flavor": flavor_of(d)} for d in probed]
    emit(found, as_json=as_json, columns=("vendor", "index", "flavor", "model", "memory_mb", "driver", "util_pct",
                                          "power_w", "energy_j", "mig_enabled"))
