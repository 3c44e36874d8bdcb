"""Benchmark results from the accelerator testbed: one row per (run, scenario), invalid runs included.

Invalid rows are kept as the record of what was tried (and why it failed) but never enter the throughput
matrix. The whole result document is kept in ``document`` for provenance; the columns are what lists,
comparisons and the matrix query.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from aicc.store.models.base import Base, UTCDateTime, utcnow


class BenchResultRow(Base):
    __tablename__ = "bench_results"
    __table_args__ = (
        UniqueConstraint("run_key", "scenario"),
        Index("ix_bench_results_class_flavor", "workload_class", "flavor"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    run_key: Mapped[str] = mapped_column(String(128))
    """What makes an ingest idempotent: ``job:<id>`` for a run done as an AICC job, else the document's hash."""
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    workload: Mapped[str] = mapped_column(String(63))
    workload_class: Mapped[str] = mapped_column(String(63))
    scenario: Mapped[str] = mapped_column(String(16))
    flavor: Mapped[str] = mapped_column(String(63))
    device_model: Mapped[str] = mapped_column(String(128), default="")
    driver: Mapped[str] = mapped_column(String(64), default="")
    units: Mapped[int] = mapped_column(Integer, default=1)
    """Accelerators (cores on a CPU flavor) the run used: the matrix divides by it."""
    valid: Mapped[bool] = mapped_column(Boolean)
    invalid_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    metric: Mapped[str] = mapped_column(String(32), default="")
    """The scenario's figure of merit: p90_latency_ms, p99_latency_ms, server_qps or samples_per_s."""
    value: Mapped[float | None] = mapped_column(Float)
    samples_per_s: Mapped[float | None] = mapped_column(Float)
    p50_ms: Mapped[float | None] = mapped_column(Float)
    p90_ms: Mapped[float | None] = mapped_column(Float)
    p99_ms: Mapped[float | None] = mapped_column(Float)
    accuracy: Mapped[float | None] = mapped_column(Float)
    energy_j_per_sample: Mapped[float | None] = mapped_column(Float)
    """Accelerator-board (or RAPL) energy per sample over LoadGen's power window; not MLPerf Power."""
    samples_per_j: Mapped[float | None] = mapped_column(Float)
    """Samples per joule, which is samples/s per W."""
    aicc_commit: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The result file as the job wrote it, this scenario's entry under ``result``."""
