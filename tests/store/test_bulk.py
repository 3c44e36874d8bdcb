"""A batch of submitted jobs stored through the bulk path holds exactly what the one-job path stores."""

from __future__ import annotations

from sqlalchemy import select

from aicc.config import Settings
from aicc.services import jobs, tokens
from aicc.store.db import Database
from aicc.store.models import JobRow
from tests.world import World

IGNORED = {"id", "submitted_at", "change_seq", "array_id"}


def _columns(row: JobRow) -> dict[str, object]:
    return {c.key: getattr(row, c.key) for c in JobRow.__table__.columns if c.key not in IGNORED}


def test_a_batch_stores_the_same_rows_as_single_submissions_with_ids_in_order(
        db: Database, world: World, settings: Settings) -> None:
    with db.read() as s:
        actor = tokens.authenticate(s, world.a.member_token)
        ref = jobs.load_reference(s)
    specs = [jobs.JobSpec(project_id=world.a.project_id, command=["echo", f"héllo {i}", "{\"x\": 1}"],
                          env={"K": f"v{i}", "QUOTE": "a'b\"c"}, flavors=["cpu"], time_limit_s=60 + i,
                          name=f"job-{i}", notify="end") for i in range(5)]
    prepared = [jobs.check(actor, settings, spec, ref) for spec in specs]
    with db.write() as s:
        batch = [d.ids[0] for d in jobs.write_many(s, [(actor, p) for p in prepared])]
    with db.write() as s:
        single = [jobs.write(s, actor, p).ids[0] for p in prepared]
    assert batch == sorted(batch) and len(set(batch)) == 5 and max(batch) < min(single)
    with db.read() as s:
        rows = {r.id: r for r in s.execute(select(JobRow).where(JobRow.id.in_(batch + single))).scalars()}
        for b, one, spec in zip(batch, single, specs, strict=True):
            assert _columns(rows[b]) == _columns(rows[one])
            assert rows[b].name == spec.name and rows[b].env == spec.env and rows[b].command == spec.command
            assert rows[b].submitted_at.tzinfo is not None
