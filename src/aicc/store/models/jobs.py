"""Jobs: what a project asked to run (spec), where it runs (placement) and how it ended.

One row per job; a job array is one row per task sharing ``array_id`` (the id of
its first task), as Slurm users expect (``412_3``). Each start of a job is a new
``attempt``: a preempted or lost job goes back to pending with its original
``submitted_at`` (its place in the queue) and runs again as attempt + 1.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from aicc.core.jobs.reasons import Reason
from aicc.store.models.base import Base, UTCDateTime, utcnow


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_project", "state", "project_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    """Why it waits, or how it ended, in English words a user can act on (rendered from ``reason_code``)."""
    reason_code: Mapped[str | None] = mapped_column(String(40))
    """The same as data (:class:`aicc.core.jobs.reasons.ReasonCode`); pages render it in the reader's language.
    None on rows written before codes existed."""
    reason_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    def set_reason(self, reason: Reason) -> None:
        self.reason, self.reason_code, self.reason_params = reason.text(), reason.code.value, reason.to_json()

    def next_attempt(self) -> None:
        """Forget the last attempt's run (engine id, placement, flavor, times, metering): the next start is a
        new attempt. The one place both requeue paths (the controller's and a user's) reset a run."""
        self.attempt += 1
        self.external_id = None
        self.placement = None
        self.flavor = None
        self.borrowed = False
        self.started_at = self.admitted_at = self.metered_until = None
        self.metered_intervals = 0
        self.preempt_requested = False

    kind: Mapped[str] = mapped_column(String(16), default="job", server_default="job", index=True)
    """:class:`aicc.core.jobs.kind.RunKind`: a batch job, an interactive session or a service replica."""
    service_id: Mapped[int | None] = mapped_column(Integer, index=True)
    """The service a replica belongs to (``kind = 'service'``); None for jobs and sessions."""
    service_revision: Mapped[int | None] = mapped_column(Integer)
    replica_state: Mapped[str | None] = mapped_column(String(16))
    """:class:`aicc.core.serving.ReplicaState`: whether the gateway may send it requests."""

    # spec
    command: Mapped[list[str]] = mapped_column(JSON)
    """argv; a submitted script is stored in ``script`` and run as ["/bin/sh", "job.sh"]."""
    script: Mapped[str | None] = mapped_column(Text)
    flavors: Mapped[list[str]] = mapped_column(JSON)
    """Acceptable flavors, in the user's order of preference."""
    accelerators: Mapped[int] = mapped_column(Integer)
    cpus: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    time_limit_s: Mapped[int] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    env: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    workload_class: Mapped[str | None] = mapped_column(String(63))
    depends_on: Mapped[list[int]] = mapped_column(JSON, default=list)
    """afterok: start only after all of these succeeded."""
    array_id: Mapped[int | None] = mapped_column(Integer, index=True)
    array_index: Mapped[int | None] = mapped_column(Integer)
    array_max_running: Mapped[int | None] = mapped_column(Integer)
    datasets: Mapped[list[int]] = mapped_column(JSON, default=list)
    """Ids of the datasets it reads (secure data zone): a sensitive one means a sandbox and held outputs."""
    image_ref: Mapped[str | None] = mapped_column(String(512))
    """The OCI image reference as the user named it, normalized (registry/repository:tag[@digest]); None: host."""
    image_digest: Mapped[str | None] = mapped_column(String(71))
    """sha256 digest the reference resolved to when the job was admitted; every later attempt runs these bits."""
    tasks_per_node: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """Processes per placed node: a gang over several nodes (or several tasks per node) runs as ranks that
    know each other (``aicc.executors.tasks``) instead of once."""
    mpi: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    """Start the ranks under the engine's MPI launcher (srun --mpi=pmix, mpirun)."""

    # life
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    admitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    allocation_id: Mapped[int | None] = mapped_column(ForeignKey("allocations.id"))
    flavor: Mapped[str | None] = mapped_column(String(63))
    placement: Mapped[list[Any] | None] = mapped_column(JSON)
    """[[node, [device indexes]], …] of the current attempt."""
    borrowed: Mapped[bool] = mapped_column(Boolean, default=False)
    external_id: Mapped[str | None] = mapped_column(String(64))
    """The engine's id for the current attempt (Slurm job id, local run id)."""
    metered_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    """End of the last usage interval written for the current attempt."""
    metered_intervals: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    preempt_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    held_by: Mapped[str | None] = mapped_column(String(64))
    """Who held this pending job (`aicc hold`): the controller never admits it until it is released."""
    version: Mapped[int] = mapped_column(Integer, default=1)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", index=True)
    """The stamp of the last transaction that changed this row (``store.changes``): the controller reads only
    rows stamped after its last look."""
