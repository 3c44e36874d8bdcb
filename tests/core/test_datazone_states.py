"""The data zone's state machines: every move a custodian or the server makes, and the ones refused."""

from __future__ import annotations

import pytest

from aicc.core.datazone.states import (
    SANDBOXED,
    Action,
    DatasetState,
    FileDecision,
    GrantState,
    OutputState,
    decide_file,
    move,
    needs_grant,
    needs_sandbox,
)
from aicc.core.errors import Conflict


def test_a_grant_is_decided_once_and_only_an_approved_one_is_revoked() -> None:
    assert move("grant 1", GrantState.REQUESTED, Action.DECIDE, GrantState.APPROVED) is GrantState.APPROVED
    assert move("grant 1", GrantState.REQUESTED, Action.DECIDE, GrantState.REJECTED) is GrantState.REJECTED
    assert move("grant 1", GrantState.APPROVED, Action.REVOKE, GrantState.REVOKED) is GrantState.REVOKED
    with pytest.raises(Conflict, match="grant 1 is approved; only a requested grant can be decided"):
        move("grant 1", GrantState.APPROVED, Action.DECIDE, GrantState.REJECTED)
    for state in (GrantState.REQUESTED, GrantState.REJECTED, GrantState.REVOKED):
        with pytest.raises(Conflict, match=f"is {state.value}; only an approved grant can be revoked"):
            move("grant 1", state, Action.REVOKE, GrantState.REVOKED)
    with pytest.raises(Conflict):  # a decision cannot land on "revoked" or back on "requested"
        move("grant 1", GrantState.REQUESTED, Action.DECIDE, GrantState.REVOKED)


def test_a_dataset_is_published_withdrawn_and_published_again_but_never_twice_in_a_row() -> None:
    s = move("dataset cxr", DatasetState.REGISTERED, Action.PUBLISH, DatasetState.PUBLISHED)
    s = move("dataset cxr", s, Action.WITHDRAW, DatasetState.WITHDRAWN)
    assert move("dataset cxr", s, Action.PUBLISH, DatasetState.PUBLISHED) is DatasetState.PUBLISHED
    with pytest.raises(Conflict, match="dataset cxr is published; only a registered or withdrawn dataset"):
        move("dataset cxr", DatasetState.PUBLISHED, Action.PUBLISH, DatasetState.PUBLISHED)
    with pytest.raises(Conflict, match="is withdrawn; only a registered or published dataset can be withdrawn"):
        move("dataset cxr", DatasetState.WITHDRAWN, Action.WITHDRAW, DatasetState.WITHDRAWN)


def test_an_output_request_is_decided_after_its_checks_and_each_file_once() -> None:
    s = move("output request 3", OutputState.HELD, Action.CHECK, OutputState.CHECKED)
    assert move("output request 3", s, Action.DECIDE, OutputState.DECIDED) is OutputState.DECIDED
    with pytest.raises(Conflict, match="only a checked output request can be decided"):
        move("output request 3", OutputState.HELD, Action.DECIDE, OutputState.DECIDED)
    with pytest.raises(Conflict, match="cannot revoke"):
        move("output request 3", OutputState.CHECKED, Action.REVOKE, OutputState.DECIDED)
    assert decide_file("out/t.csv", None, approve=True) is FileDecision.APPROVED
    assert decide_file("out/t.csv", None, approve=False) is FileDecision.REJECTED
    with pytest.raises(Conflict, match=r"out/t\.csv was already approved"):
        decide_file("out/t.csv", "approved", approve=False)


def test_one_rule_says_which_runs_are_sandboxed_and_which_datasets_need_a_grant() -> None:
    assert not needs_sandbox([]) and not needs_sandbox(["open", "open"])
    assert needs_sandbox(["open", "sensitive"])
    assert needs_sandbox(["restricted"])  # an unknown class errs on the side of the sandbox
    assert {"sensitive"} == SANDBOXED
    assert needs_grant("sensitive") and not needs_grant("open")
