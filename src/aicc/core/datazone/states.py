"""The data zone's records and the only moves between their states: datasets, grants, output requests.

A custodian's decision is a security event, so each record's life is written once, here, as
``core/programs.py`` does for applications: the services call :func:`move` and store the state it returns,
and a refused move is a 409 naming the record and what it is now. Nothing else compares or assigns these
states as bare strings.

    dataset:  registered ──publish──▶ published ──withdraw──▶ withdrawn ──publish──▶ published
    grant:    requested ──decide──▶ approved | rejected;  approved ──revoke──▶ revoked
    output:   held ──check──▶ checked ──decide (the last file)──▶ decided;  each file decided once
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import TypeVar

from aicc.core.datazone.datasets import Classification
from aicc.core.errors import Conflict


class DatasetState(enum.StrEnum):
    REGISTERED = "registered"
    """Described and fingerprinted; no job reads it yet."""
    PUBLISHED = "published"
    """Granted projects' jobs read it (its pseudonymised copy where identifiers were declared)."""
    WITHDRAWN = "withdrawn"
    """No new job reads it; the custodian may publish it again."""


class GrantState(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    """Live until it expires or is revoked."""
    REJECTED = "rejected"
    REVOKED = "revoked"


class OutputState(enum.StrEnum):
    """An output request: a finished sensitive job's files, held until the custodian decides each."""

    HELD = "held"
    CHECKED = "checked"
    """The server's automatic checks ran; files wait for the custodian."""
    DECIDED = "decided"
    """Every file approved or rejected."""


class FileDecision(enum.StrEnum):
    APPROVED = "approved"
    """Released: the project may download it."""
    REJECTED = "rejected"


class Action(enum.StrEnum):
    PUBLISH = "publish"
    WITHDRAW = "withdraw"
    DECIDE = "decide"
    REVOKE = "revoke"
    CHECK = "check"


State = DatasetState | GrantState | OutputState

_MOVES: dict[tuple[type[State], Action], dict[State, frozenset[State]]] = {
    (DatasetState, Action.PUBLISH): {DatasetState.REGISTERED: frozenset({DatasetState.PUBLISHED}),
                                     DatasetState.WITHDRAWN: frozenset({DatasetState.PUBLISHED})},
    (DatasetState, Action.WITHDRAW): {DatasetState.REGISTERED: frozenset({DatasetState.WITHDRAWN}),
                                      DatasetState.PUBLISHED: frozenset({DatasetState.WITHDRAWN})},
    (GrantState, Action.DECIDE): {GrantState.REQUESTED: frozenset({GrantState.APPROVED, GrantState.REJECTED})},
    (GrantState, Action.REVOKE): {GrantState.APPROVED: frozenset({GrantState.REVOKED})},
    (OutputState, Action.CHECK): {OutputState.HELD: frozenset({OutputState.CHECKED})},
    (OutputState, Action.DECIDE): {OutputState.CHECKED: frozenset({OutputState.DECIDED})},
}

_NEEDS: dict[tuple[type[State], Action], str] = {
    (DatasetState, Action.PUBLISH): "a registered or withdrawn dataset",
    (DatasetState, Action.WITHDRAW): "a registered or published dataset",
    (GrantState, Action.DECIDE): "a requested grant",
    (GrantState, Action.REVOKE): "an approved grant",
    (OutputState, Action.CHECK): "a held output request",
    (OutputState, Action.DECIDE): "a checked output request",
}


_DONE = {Action.PUBLISH: "published", Action.WITHDRAW: "withdrawn", Action.DECIDE: "decided",
         Action.REVOKE: "revoked", Action.CHECK: "checked"}

S = TypeVar("S", DatasetState, GrantState, OutputState)


def move(what: str, state: S, action: Action, target: S) -> S:
    """``target`` if ``action`` may take a record in ``state`` there, else a 409 such as
    "grant 7 is revoked; only an approved grant can be revoked"."""
    kind = type(state)
    if target in _MOVES.get((kind, action), {}).get(state, frozenset()):
        return target
    needs = _NEEDS.get((kind, action))
    if needs is None:
        raise Conflict(f"{what} cannot {action.value}")
    raise Conflict(f"{what} is {state.value}; only {needs} can be {_DONE[action]}")


def decide_file(path: str, current: str | None, approve: bool) -> FileDecision:
    """Each held file is decided exactly once: a release cannot be taken back, nor a refusal quietly undone."""
    if current is not None:
        raise Conflict(f"{path} was already {current}")
    return FileDecision.APPROVED if approve else FileDecision.REJECTED


def needs_sandbox(classifications: Iterable[str]) -> bool:
    """The one rule for "is this run sensitive?": it reads a dataset that is not open. Such a run gets the
    strict sandbox, its logs and files are held for the custodian, and its project sees only a coarse
    account of how it ended."""
    return any(c != Classification.OPEN.value for c in classifications)


def needs_grant(classification: str) -> bool:
    """A project reads a dataset only under a live grant unless the custodian classed it open."""
    return classification != Classification.OPEN.value


SANDBOXED = frozenset(c.value for c in Classification if needs_sandbox([c.value]))
"""Classifications that make a run sensitive, for queries that filter datasets in the database."""
