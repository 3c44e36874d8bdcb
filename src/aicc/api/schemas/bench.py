"""Wire models for the accelerator testbed (`/api/v1/bench`)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from aicc.api.schemas.common import Ident, Name, Out, Strict

Scenario = Literal["SingleStream", "MultiStream", "Server", "Offline", "Training"]


def _offline() -> list[Scenario]:
    return ["Offline"]


class BenchRun(Strict):
    project_id: Ident | None = Field(None, description="Project to charge (or give `project`).")
    project: Name | None = None
    flavor: Name = Field(description="The flavor to measure; the job runs there and nowhere else.")
    workload: Name = Field(description="A workload name: `GET /bench/workloads`.")
    scenarios: list[Scenario] = Field(default_factory=_offline, min_length=1, max_length=4,
                                      description="MLPerf scenarios, run one after the other in one job.")
    accelerators: int = Field(1, ge=0, le=64, description="Ignored on a CPU flavor.")
    cpus: int = Field(1, ge=1, le=1024)
    memory_mb: int = Field(4096, ge=256, le=4 * 1024 * 1024)
    duration_ms: int = Field(10_000, ge=100, le=3_600_000, description="LoadGen minimum duration per run.")
    time_limit_s: int = Field(3600, ge=60, le=86_400)
    max_batch: int = Field(16, ge=1, le=4096, description="Largest batch the SUT forms (1: no batching).")

    @model_validator(mode="after")
    def _one_project(self) -> Self:
        if (self.project_id is None) == (self.project is None):
            raise ValueError("give exactly one of project_id and project")
        return self


class BenchRunSubmitted(Out):
    job_id: int


class IngestJob(Strict):
    job_id: Ident


class BenchResult(Out):
    id: int
    job_id: int | None
    workload: str
    workload_class: str
    scenario: str
    flavor: str
    device_model: str
    driver: str
    units: int
    valid: bool
    invalid_reasons: list[str]
    metric: str
    value: float | None
    samples_per_s: float | None
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    accuracy: float | None
    energy_j_per_sample: float | None = Field(description="Accelerator-board energy; not MLPerf Power.")
    samples_per_j: float | None = Field(description="Samples/s per W (board energy); not MLPerf Power.")
    aicc_commit: str
    started_at: dt.datetime | None
    created_at: dt.datetime


class BenchResultFull(BenchResult):
    document: dict[str, Any] = Field(description="The result file as written by the run (provenance).")


class Matrix(Out):
    unit: str = "samples/s per unit (accelerator, or core on a CPU flavor), newest valid result per scenario"
    matrix: dict[str, dict[str, float]]
    su_rates: dict[str, float]
    samples_per_su: dict[str, dict[str, float]]


class Explanation(Out):
    job_id: int
    flavor: str | None
    workload_class: str | None
    explanation: str | None
