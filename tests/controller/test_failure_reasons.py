"""A failed run's reason becomes a code when the engine's words are one of the runner's own forms, so pages
render it in the reader's language; anything else stays the engine's own words."""

from __future__ import annotations

import pytest

from aicc.controller.lifecycle import failure_reason
from aicc.core.jobs.reasons import ReasonCode, render
from aicc.executors.base import RunPhase, RunStatus


def _status(code: int | None, reason: str | None) -> RunStatus:
    return RunStatus(1, 0, "local:1:0", RunPhase.FAILED, exit_code=code, reason=reason)


@pytest.mark.parametrize(("code", "reason", "expected", "korean"), [
    (3, "exited with code 3", ReasonCode.EXITED, "종료 코드 3으로 끝남"),
    (1, None, ReasonCode.EXITED, "종료 코드 1로 끝남"),
    (-9, "killed by signal SIGKILL", ReasonCode.SIGNALLED, "시그널 SIGKILL(으)로 종료됨"),
    (137, "out of memory (limit 128 MiB)", ReasonCode.OUT_OF_MEMORY, "메모리 부족 (한도 128 MiB)"),
    (1, "node node2 failed", ReasonCode.ENGINE, "실행 엔진 보고: node node2 failed"),
    (3, "exited with code 4", ReasonCode.ENGINE, "실행 엔진 보고: exited with code 4"),  # not our form: kept
])
def test_runner_forms_become_codes_and_other_words_stay(code: int | None, reason: str | None,
                                                        expected: ReasonCode, korean: str) -> None:
    from aicc.portal.i18n import josa

    r = failure_reason(_status(code, reason))
    assert r.code is expected
    assert josa(render(r, "ko")) == korean
    if reason is not None:
        assert render(r, "en") == reason  # the English text is what the engine said
