"""Wire models of the secure data zone: datasets, grants, output requests and decisions."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from aicc.api.schemas.common import Ident, LongText, Name, Out, Strict, Timestamp, Title

RelPath = Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=r"^[^\x00]+$")]
ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")]
Comment = Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$")]


class ColumnSpec(Strict):
    name: ColumnName
    role: Literal["identifier", "quasi_identifier", "other"] = "other"


class SdcSettings(Strict):
    """Statistical disclosure control for tables made from this dataset (ACRO's defaults where unset)."""

    threshold: int | None = Field(None, ge=1, le=1000, description="Smallest cell count shown (ACRO: 10).")
    p_ratio: float | None = Field(None, gt=0, le=1, description="p-percent rule (ACRO: 0.10).")
    nk_n: int | None = Field(None, ge=1, le=100, description="n of the nk-dominance rule (ACRO: 2).")
    nk_k: float | None = Field(None, gt=0, le=1, description="k of the nk-dominance rule (ACRO: 0.90).")


class DatasetRegister(Strict):
    organization_id: Ident = Field(description="The custodian organization.")
    name: Name
    title: Title
    description: LongText = ""
    classification: Literal["open", "sensitive"]
    path: RelPath = Field(description="A directory relative to the center's data root (AICC_DATA_ROOT).")
    columns: list[ColumnSpec] = Field(default_factory=list, max_length=1000)
    pseudonymize: bool = Field(False, description="Replace identifier columns by keyed pseudonyms before "
                                                  "grantees see the data.")
    k: int = Field(5, ge=2, le=1000, description="Required k-anonymity over the quasi-identifiers.")
    sdc: SdcSettings = Field(default_factory=SdcSettings)


class Dataset(Out):
    id: int
    organization_id: int
    name: str
    title: str
    description: str
    classification: str
    state: str
    columns: list[dict[str, str]]
    pseudonymize: bool
    k_required: int
    k_report: dict[str, Any] | None
    sdc: dict[str, Any]
    created_at: dt.datetime
    files: int = 0
    bytes: int = 0


class GrantRequest(Strict):
    dataset: Name
    project_id: Ident
    purpose: Annotated[str, StringConstraints(min_length=10, max_length=2000, pattern=r"^[^\x00]+$")]
    expires_at: Timestamp


class GrantDecision(Strict):
    approve: bool
    comment: Comment = ""
    expires_at: Timestamp | None = Field(None, description="Shorten the requested expiry.")


class GrantRevoke(Strict):
    comment: Comment = ""
    stop_running: bool = Field(False, description="Also cancel the project's running jobs on the dataset.")


class Grant(Out):
    id: int
    dataset_id: int
    project_id: int
    purpose: str
    expires_at: dt.datetime
    state: str
    requested_at: dt.datetime
    decided_at: dt.datetime | None
    comment: str


class RevokeResult(Out):
    grant: Grant
    stopped_jobs: list[int]


class OutputFile(Out):
    """A held file. Its project sees it only once the custodian approved it; the check fields are for
    custodians only (null for the project)."""

    id: int
    path: str
    kind: str
    size: int
    sha256: str | None
    check_status: str | None = None
    check_reasons: list[str] | None = None
    decision: str | None
    decided_at: dt.datetime | None
    comment: str


class OutputRequest(Out):
    id: int
    job_id: int
    project_id: int
    dataset_ids: list[int]
    state: str
    created_at: dt.datetime
    retain_until: dt.datetime
    held_files: int = Field(0, description="How many files are held in all (the only thing the project "
                                           "learns of them before the custodian approves one).")
    released_files: int = 0
    note: str = Field("", description="'held for review' while files await the custodian.")
    files: list[OutputFile] = Field(default_factory=list, description="Custodians: every held file. The "
                                    "project: the approved ones only.")


class FileDecision(Strict):
    approve: bool
    comment: Comment = ""
