"""Change stamps: every transaction that changes a job (or what scheduling depends on) leaves a number behind.

The controller keeps one long-lived scheduler state and asks the database only for what changed since its last
look: ``jobs.change_seq > last``. That needs a number that grows in commit order even with several API worker
processes writing at once. One counter row (``aicc_changes.seq``), bumped once per transaction, gives it: the
bump locks the row until the transaction ends (PostgreSQL) or happens under SQLite's one writer, so a stamp is
visible only after every smaller one is. ORM changes are stamped by a ``before_flush`` hook; the few bulk
statements on ``jobs`` (submissions, the planner's writes) call :func:`stamp` and set ``change_seq`` themselves.
A write that escapes both is caught by the controller's periodic consistency check (a rebuild, logged loudly).
"""

from __future__ import annotations

from itertools import chain
from typing import Any

from sqlalchemy import event, inspect, select, text
from sqlalchemy.orm import Session, UOWTransaction

from aicc.store.models import (
    AllocationQuotaRow,
    AllocationRow,
    BenchResultRow,
    ChangeRow,
    DatasetRow,
    FlavorRow,
    GrantRow,
    JobRow,
    NodeRow,
    ProjectRow,
    ReservationRow,
    SiteRow,
)

SEQ = "seq"
JOBS = "jobs"
ALLOCATIONS = "allocations"
GRANTS = "grants"
INVENTORY = "inventory"
KINDS = (JOBS, ALLOCATIONS, GRANTS, INVENTORY)
_SEQ_KEY = "aicc_change_seq"
_KINDS_KEY = "aicc_change_kinds"
_BUMP = text("INSERT INTO aicc_changes (name, n) VALUES ('seq', 1) "
             "ON CONFLICT (name) DO UPDATE SET n = aicc_changes.n + 1 RETURNING n")
_MARK = text("INSERT INTO aicc_changes (name, n) VALUES (:name, :n) ON CONFLICT (name) DO UPDATE SET n = :n")


def stamp(s: Session, *kinds: str) -> int:
    """This transaction's stamp (one counter bump per transaction), marking ``kinds`` as changed at it."""
    seq: int | None = s.info.get(_SEQ_KEY)
    if seq is None:
        seq = int(s.execute(_BUMP).scalar_one())
        s.info[_SEQ_KEY] = seq
        s.info[_KINDS_KEY] = set()
    marked: set[str] = s.info[_KINDS_KEY]
    for kind in kinds:
        if kind not in marked:
            s.execute(_MARK, {"name": kind, "n": seq})
            marked.add(kind)
    return seq


def read(s: Session) -> dict[str, int]:
    """The counters as committed now (0 for one never bumped)."""
    found = {name: int(n) for name, n in s.execute(select(ChangeRow.name, ChangeRow.n))}
    return {k: found.get(k, 0) for k in (SEQ, *KINDS)}


_ALLOC = (AllocationRow, AllocationQuotaRow, ReservationRow)  # reservations: the windows the policy honours
_INVENTORY = (NodeRow, FlavorRow, SiteRow, BenchResultRow)
_GRANTS = (GrantRow, DatasetRow)


@event.listens_for(Session, "before_flush")
def _stamp_flush(session: Session, _ctx: UOWTransaction, _instances: Any) -> None:
    kinds: set[str] = set()
    jobs: list[JobRow] = []
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, JobRow):
            if obj in session.new or obj in session.deleted or session.is_modified(obj, include_collections=False):
                jobs.append(obj)
        elif isinstance(obj, _ALLOC):
            kinds.add(ALLOCATIONS)
        elif isinstance(obj, _INVENTORY):
            kinds.add(INVENTORY)
        elif isinstance(obj, _GRANTS):
            kinds.add(GRANTS)
        elif isinstance(obj, ProjectRow) and obj not in session.new and \
                inspect(obj).attrs.workload_class.history.has_changes():
            kinds.add(INVENTORY)  # the default class of its pending jobs: their placement order changes
    if jobs:
        kinds.add(JOBS)
    if not kinds:
        return
    seq = stamp(session, *kinds)
    for job in jobs:
        if job not in session.deleted:
            job.change_seq = seq


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_SEQ_KEY, None)
        session.info.pop(_KINDS_KEY, None)
