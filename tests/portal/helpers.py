"""Making jobs for portal tests through the same service the API uses."""

from __future__ import annotations

from aicc.config import Settings
from aicc.services import jobs, tokens
from aicc.store.db import Database


def submit(db: Database, settings: Settings, token: str, project_id: int, name: str, *, n: int = 1) -> list[int]:
    ids = []
    with db.write() as s:
        actor = tokens.authenticate(s, token)
        for i in range(n):
            spec = jobs.JobSpec(project_id=project_id, command=["sleep", "1"], name=f"{name}{i}" if n > 1 else name,
                                flavors=["cpu"], cpus=1, memory_mb=1024)
            ids += jobs.submit(s, actor, settings, spec).ids
    return ids
