"""Wire models for jobs. Field docs double as the user manual of `POST /jobs`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, Self

from pydantic import BeforeValidator, Field, StringConstraints, model_validator

from aicc.api.schemas.common import Ident, Name, Out, Strict
from aicc.core.jobs.kind import RunKind
from aicc.core.names import FLAVOR_PATTERN, JOB_NAME_PATTERN

Arg = Annotated[str, StringConstraints(max_length=4096, pattern=r"^[^\x00]*$")]
EnvValue = Annotated[str, StringConstraints(max_length=32_768, pattern=r"^[^\x00]*$")]
EnvKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
JobName = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=JOB_NAME_PATTERN)]
"""Letters of any language (학습-1차); no control characters, nor those that break paths or shells."""
FlavorName = Annotated[str, StringConstraints(pattern=FLAVOR_PATTERN, min_length=1, max_length=63),
                       BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v)]
"""Flavor names are lowercase; `H100` means `h100`, as people write it."""


class JobSubmit(Strict):
    project_id: Ident | None = Field(None, description="Project to charge (or give `project`).")
    project: Name | None = Field(None, description="Project name, as an alternative to project_id.")
    command: list[Arg] = Field(default_factory=list, max_length=256, description='argv, e.g. ["python", "train.py"].')
    script: str | None = Field(None, max_length=256 * 1024, pattern=r"^[^\x00]*$",
                               description="A shell script to run instead of a command (`aicc submit job.sh`).")
    name: JobName | None = Field(None, description="Defaults to the command's basename.")
    flavors: list[FlavorName] = Field(
        default_factory=list, max_length=16,
        description="Acceptable accelerator types (case does not matter). Empty: with accelerators, the center's "
                    "NVIDIA GPU flavors (all accelerator flavors if it has none); without, its CPU flavors. "
                    '`["any"]`: any accelerator type, NPUs included.')
    accelerators: int = Field(0, ge=0, le=4096, description="Accelerators for the whole gang (0 for CPU jobs).")
    cpus: int = Field(1, ge=1, le=65_536)
    memory_mb: int = Field(4096, ge=1, le=64 * 1024 * 1024)
    time_limit_s: int = Field(3600, ge=1, le=366 * 86400, description="Hard limit; the job is killed after it.")
    priority: int = Field(0, ge=-100, le=100, description="Order among your project's own jobs.")
    env: dict[EnvKey, EnvValue] = Field(default_factory=dict, max_length=128)
    workload_class: Name | None = Field(None, description="e.g. llm-training; used for placement by throughput.")
    depends_on: list[Ident] = Field(default_factory=list, max_length=100,
                                    description="afterok: start only after these jobs succeeded.")
    array: str | None = Field(None, max_length=200, pattern=r"^[0-9,%:-]+$",
                              description="Slurm-style index spec: 0-99, 1,3,5-7, 0-15%4 (at most 4 at once).")
    datasets: list[Name] = Field(default_factory=list, max_length=16,
                                 description="Datasets to read under /data/<name>. A sensitive one needs the "
                                             "project's grant; the job then runs sandboxed and its outputs and "
                                             "logs are held for the custodian.")
    image: str | None = Field(None, min_length=1, max_length=512,
                              description="OCI image to run in, with a tag or digest (`registry/repo:tag`, "
                                          "`repo@sha256:…`) from a registry the center allows; resolved to a "
                                          "digest when the job is admitted. None: the host's system.")
    notify: list[Literal["end", "fail"]] = Field(default_factory=list, max_length=2,
                                                 description="Tell the submitter (email, webhooks) when the job "
                                                             "ends (`end`, any ending) or fails (`fail`), as "
                                                             "`sbatch --mail-type`.")

    tasks_per_node: int = Field(1, ge=1, le=1024, description="Processes per node: 1 (default) runs one task on "
                                "each node of a gang wider than a node; the number of accelerators on a node "
                                "runs one per accelerator. Each task gets RANK, WORLD_SIZE, MASTER_ADDR, … .")
    mpi: bool = Field(False, description="Start the tasks under the center's MPI launcher (srun --mpi=pmix on "
                                         "Slurm, mpirun locally) instead of directly.")

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.project_id is None) == (self.project is None):
            raise ValueError("give exactly one of project_id and project")
        if bool(self.command) == bool(self.script):
            raise ValueError("give exactly one of command and script")
        return self


class JobSubmitted(Out):
    id: int = Field(description="The first (or only) job id.")
    ids: list[int]
    array_id: int | None


class Job(Out):
    id: int
    name: str
    kind: RunKind = Field(RunKind.JOB, description="job, session or service (one run model, three lifecycles).")
    project_id: int
    user_id: int
    state: str
    reason: str = Field(description="Why it waits or how it ended, in English, rendered from reason_code.")
    reason_code: str | None = Field(None, description="The reason as a code (a client renders it in its own "
                                    "language); null on jobs from before codes.")
    reason_params: dict[str, Any] | None = Field(None, description="The code's parameters.")
    command: list[str]
    flavors: list[str]
    accelerators: int
    cpus: int
    memory_mb: int
    time_limit_s: int
    priority: int
    workload_class: str | None
    depends_on: list[int]
    array_id: int | None
    array_index: int | None
    submitted_at: dt.datetime
    admitted_at: dt.datetime | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    exit_code: int | None
    attempt: int
    flavor: str | None
    placement: list[Any] | None
    borrowed: bool
    allocation_id: int | None
    datasets: list[int] = Field(default_factory=list)
    image_ref: str | None = Field(None, description="The image as named at submit (normalized).")
    image_digest: str | None = Field(None, description="The digest it resolved to; every attempt runs these bits.")
    tasks_per_node: int = 1
    mpi: bool = False
    held_by: str | None = Field(None, description="Who holds this pending job (`aicc hold`); it does not start "
                                                   "until released.")
    user: str | None = Field(None, description="The submitter's username (squeue's USER).")


class JobUpdate(Strict):
    """A pending job's new shape (`aicc update`); what is left out stays. Checked as at submit."""

    name: JobName | None = None
    flavors: list[FlavorName] | None = Field(None, min_length=1, max_length=16)
    accelerators: int | None = Field(None, ge=0, le=4096)
    cpus: int | None = Field(None, ge=1, le=65_536)
    memory_mb: int | None = Field(None, ge=1, le=64 * 1024 * 1024)
    time_limit_s: int | None = Field(None, ge=1, le=366 * 86400)
    priority: int | None = Field(None, ge=-100, le=100)

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.model_dump(exclude_none=True):
            raise ValueError("give at least one field to change")
        return self


class LogChunk(Out):
    stream: str
    offset: int
    next_offset: int
    size: int
    data: str
    finished: bool = Field(description="The job has ended: no more output will come.")
