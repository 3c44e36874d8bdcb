"""Each project's Unix identity: given at its first job's start, recorded on the project, never reused.

The controller asks before it builds launches; the uid comes from the center's range
(``AICC_UID_BASE``/``AICC_UID_COUNT``, see ``aicc.runner.identity`` for why one uid per project). Only the
controller (the holder of the controller lock) allocates, so two allocations never race; the column's
unique constraint would refuse a duplicate anyway.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from aicc.config import Settings
from aicc.runner.identity import UidRange, UidRangeExhausted
from aicc.store.db import Database
from aicc.store.models import ProjectRow


def uid_range(settings: Settings) -> UidRange:
    return UidRange(settings.uid_base, settings.uid_count)


def project_uids(db: Database, settings: Settings, project_ids: Iterable[int]) -> dict[int, int | str]:
    """{project id: its uid, or the reason it has none ("uid range exhausted: …")}; gives missing ones."""
    wanted = set(project_ids)
    if not wanted:
        return {}
    with db.read() as s:
        rows = s.execute(select(ProjectRow.id, ProjectRow.unix_uid).where(ProjectRow.id.in_(wanted))).all()
        have: dict[int, int | None] = {pid: uid for pid, uid in rows}
    out: dict[int, int | str] = {pid: uid for pid, uid in have.items() if uid is not None}
    missing = sorted(pid for pid in have if have[pid] is None)
    if not missing:
        return out
    rng = uid_range(settings)
    with db.write() as s:
        taken = {u for u in s.execute(select(ProjectRow.unix_uid)).scalars() if u is not None}
        for pid in missing:
            row = s.get(ProjectRow, pid)
            if row is None:
                continue
            if row.unix_uid is None:
                try:
                    row.unix_uid = rng.next_free(taken)
                except UidRangeExhausted as exc:
                    out[pid] = str(exc)
                    continue
                taken.add(row.unix_uid)
            out[pid] = row.unix_uid
    return out
