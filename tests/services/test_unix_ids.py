"""Each project's Unix uid: given once from the center's range, recorded, never shared; a full range is a
readable reason, not a crash."""

from __future__ import annotations

import dataclasses

from aicc.config import Settings
from aicc.services.unix_ids import project_uids
from aicc.store.db import Database
from aicc.store.models import ProjectRow
from tests.world import World


def test_projects_get_distinct_uids_once_and_keep_them(db: Database, world: World, settings: Settings) -> None:
    a, b = world.a.project_id, world.b.project_id
    first = project_uids(db, settings, [a, b])
    assert sorted(first.values()) == [settings.uid_base + 1, settings.uid_base + 2]  # the base is reserved
    assert project_uids(db, settings, [b, a]) == first  # recorded: the same again
    with db.read() as s:
        assert {s.get(ProjectRow, p).unix_uid for p in (a, b)} == set(first.values())  # type: ignore[union-attr]


def test_an_exhausted_range_is_a_reason_and_the_others_keep_theirs(db: Database, world: World,
                                                                     settings: Settings) -> None:
    tight = dataclasses.replace(settings, uid_count=2)  # the reserved uid and one more
    got = project_uids(db, tight, [world.a.project_id])
    assert got == {world.a.project_id: tight.uid_base + 1}
    full = project_uids(db, tight, [world.a.project_id, world.b.project_id])
    assert full[world.a.project_id] == tight.uid_base + 1
    assert str(full[world.b.project_id]).startswith("uid range exhausted")
