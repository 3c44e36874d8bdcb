"""Wire models for services (``/api/v1/services``): always-on endpoints behind the gateway."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Self

from pydantic import Field, StringConstraints, model_validator

from aicc.api.schemas.common import Ident, Name, Out, Strict
from aicc.api.schemas.jobs import Arg, EnvKey, EnvValue, FlavorName

ServiceName = Annotated[str, StringConstraints(min_length=1, max_length=63)]
"""Checked by ``core.serving.check_service_name``, whose refusal says the DNS-label rule in words."""
HealthPath = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Image = Annotated[str, StringConstraints(min_length=1, max_length=512)]


class ServiceCreate(Strict):
    project_id: Ident | None = Field(None, description="The project that owns and pays for it (or give `project`).")
    project: Name | None = None
    name: ServiceName = Field(description="A DNS label, unique in the project: the address is /svc/<project>/<name>/.")
    image: Image | None = Field(None, description="OCI image of the server (tag or digest); None: the host's system.")
    command: list[Arg] = Field(default_factory=list, max_length=256,
                               description="argv of the server; it must listen on `port` (in its own network "
                                           "namespace: the port never collides, and is reached only by the gateway).")
    port: int = Field(8000, ge=1, le=65535)
    health: HealthPath = Field("/health", description="Readiness: a 2xx or 3xx on GET of this path.")
    replicas: int = Field(1, ge=0, le=16)
    min_replicas: int | None = Field(None, ge=0, le=16, description="Autoscaling's floor (default: replicas).")
    max_replicas: int | None = Field(None, ge=0, le=16, description="Autoscaling's ceiling (default: replicas).")
    target_in_flight: float = Field(4.0, gt=0, le=10_000, description="Requests in flight per replica to aim at.")
    flavors: list[FlavorName] = Field(default_factory=list, max_length=16)
    accelerators: int = Field(0, ge=0, le=64, description="Per replica; counted against nominal quota only.")
    cpus: int = Field(1, ge=1, le=1024)
    memory_mb: int = Field(2048, ge=16, le=4 * 1024 * 1024)
    env: dict[EnvKey, EnvValue] = Field(default_factory=dict, max_length=128)

    @model_validator(mode="after")
    def _one_project(self) -> Self:
        if (self.project_id is None) == (self.project is None):
            raise ValueError("give exactly one of project_id and project")
        return self


class ServiceUpdate(Strict):
    image: Image | None = None
    command: list[Arg] | None = Field(None, max_length=256)
    port: int | None = Field(None, ge=1, le=65535)
    health: HealthPath | None = None
    env: dict[EnvKey, EnvValue] | None = Field(None, max_length=128)


class ServiceScale(Strict):
    replicas: int | None = Field(None, ge=0, le=16)
    min_replicas: int | None = Field(None, ge=0, le=16)
    max_replicas: int | None = Field(None, ge=0, le=16)


class Revision(Out):
    number: int
    image_ref: str | None
    command: list[str]
    port: int
    health_path: str
    flavors: list[str]
    accelerators: int
    cpus: int
    memory_mb: int
    created_at: dt.datetime


class Replica(Out):
    id: int = Field(description="The replica's run (a job of kind service).")
    state: str
    replica_state: str | None = Field(None, description="starting, ready, unhealthy, draining, retired or ended.")
    service_revision: int | None
    reason: str
    flavor: str | None
    started_at: dt.datetime | None


class Service(Out):
    id: int
    project_id: int
    name: str
    state: str = Field(description="active, stopped or failed.")
    reason: str
    revision: int
    previous_revision: int | None
    replicas: int
    min_replicas: int
    max_replicas: int
    target_in_flight: float
    created_at: dt.datetime
    version: int
    address: str = Field("", description="The gateway path: /svc/<project>/<name>/.")


class ServiceDetail(Service):
    current: Revision
    live_replicas: list[Replica]


class ServiceEvent(Out):
    id: int
    at: dt.datetime
    kind: str
    message: str
    job_id: int | None


class KeyCreate(Strict):
    name: str = Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")
    rate_per_s: float = Field(50.0, gt=0, le=100_000, description="Requests a second this key may send.")
    burst: int | None = Field(None, ge=1, le=1_000_000, description="Requests at once above the rate.")


class Key(Out):
    id: int
    name: str
    public_id: str
    rate_per_s: float
    burst: int
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class KeyIssued(Key):
    key: str = Field(description="Shown once: send it as Authorization: Bearer <key>.")
