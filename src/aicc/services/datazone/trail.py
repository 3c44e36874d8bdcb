"""Which audit events concern a custodian's data, whoever's organization they were recorded under.

Events are filed under the organization that acted (a startup's download is the
startup's event), yet the hospital that holds the data must see every use of it:
grants, jobs that read it, held outputs, views, decisions and downloads.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import Session

from aicc.store.models import AuditEventRow, DatasetRow, GrantRow, OutputFileRow, OutputRequestRow


def custodian_condition(s: Session, org_ids: list[int]) -> Any:
    """SQL condition matching the events about the datasets of ``org_ids``."""
    if not org_ids:
        return false()
    datasets = set(s.execute(select(DatasetRow.id).where(DatasetRow.organization_id.in_(org_ids))).scalars())
    if not datasets:
        return false()
    grants = s.execute(select(GrantRow.id).where(GrantRow.dataset_id.in_(datasets))).scalars()
    requests = [(r.id, r.job_id) for r in s.execute(select(OutputRequestRow)).scalars()
                if set(r.dataset_ids or []) & datasets]
    files: list[int] = list(s.execute(select(OutputFileRow.id).where(
        OutputFileRow.request_id.in_([r for r, _ in requests]))).scalars()) if requests else []
    targets = {"dataset": datasets, "grant": set(grants), "output_request": {r for r, _ in requests},
               "output_file": set(files), "job": {j for _, j in requests}}
    return or_(*(and_(AuditEventRow.target_type == kind, AuditEventRow.target_id.in_([str(i) for i in ids]))
                 for kind, ids in targets.items() if ids))
