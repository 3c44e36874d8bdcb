"""Request and response bodies of a project's workspace (``/projects/{id}/workspace``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field

from aicc.api.schemas.common import Strict

WsPath = Annotated[str, Field(min_length=1, max_length=4096, description="Relative to the workspace: no leading "
                              "'/', no '.' or '..' components, no control characters; links are never followed.")]
WsPathQuery = Annotated[str, Query(max_length=4096, description="A path relative to the workspace.")]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256, lowercase hex.")]
FileSize = Annotated[int, Field(ge=0, le=1 << 50, description="Bytes.")]
UploadId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]


class WorkspaceInfo(BaseModel):
    project_id: int
    project: str
    quota_bytes: int
    used_bytes: int
    over_quota: bool
    enforcement: str
    """``filesystem`` (writes past the quota fail with EDQUOT) or ``measured`` (AICC refuses new work)."""
    backend: str
    mount: str


class WsEntry(BaseModel):
    path: str
    kind: str
    size: int
    mtime: float


class WsListing(BaseModel):
    path: str
    entries: list[WsEntry]
    hidden: int
    """Entries whose names AICC does not handle (not UTF-8, control characters), left out."""


class UploadCreate(Strict):
    path: WsPath
    size: FileSize
    sha256: Sha256 | None = None
    overwrite: bool = False


class UploadFinish(Strict):
    sha256: Sha256 | None = None


class UploadOut(BaseModel):
    id: str
    path: str
    size: int
    offset: int
    sha256: str | None


class WsMove(Strict):
    src: WsPath
    dst: WsPath


class WsFile(BaseModel):
    path: str
    size: int
    sha256: str
