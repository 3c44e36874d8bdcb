"""Every reason code renders in every language, from its parameters alone."""

from __future__ import annotations

import pytest

from aicc.core.jobs.reasons import LANGS, TEXTS, Reason, ReasonCode, fields, from_row, render
from aicc.core.scheduling import reasons


@pytest.mark.parametrize("code", list(ReasonCode))
def test_every_code_has_a_text_in_every_language_with_the_same_parameters(code: ReasonCode) -> None:
    assert code in TEXTS, f"{code} has no texts"
    for lang in LANGS:
        assert TEXTS[code].get(lang), f"{code} has no {lang} text"
    names = fields(code, "en") - {"jobs_word"}
    assert fields(code, "ko") - {"jobs_word"} == names, f"{code}: en and ko use different parameters"
    sample = Reason(code, {n: (1.5 if n in ("hours", "needs", "left") else 7) for n in names})
    for lang in LANGS:
        assert render(sample, lang)


def test_korean_pages_get_korean_for_the_reasons_that_stayed_english() -> None:
    for r in (Reason(ReasonCode.STARTING, {"flavor": "h100", "note": ""}),
              Reason(ReasonCode.NO_LIVE_GRANT, {"dataset": "census"}),
              Reason(ReasonCode.REQUEUED, {"detail": "node down"}),
              Reason(ReasonCode.PREEMPTED), Reason(ReasonCode.COULD_NOT_START, {"error": "boom"})):
        ko = render(r, "ko")
        assert ko != render(r, "en") and any("\uac00" <= ch <= "\ud7a3" for ch in ko), ko


def test_the_english_text_is_what_the_api_always_said() -> None:
    assert render(reasons.preempting([4])) == "waiting: preempting borrowed capacity (job 4)"
    assert render(reasons.preempting([4, 5])) == "waiting: preempting borrowed capacity (jobs 4, 5)"
    assert render(reasons.budget(2.0, 12.0, -3.0)) == \
        "waiting: allocation budget too low for 2 h time limit (needs 12.0 SU, 0.0 left)"
    # node-aware reservations: a start at "now" is never "scattered over nodes" (that starts later); it is
    # capacity held for preempting jobs, or nodes short of cores or memory
    assert render(reasons.reserved("h100", 0.0, 0.0)) == "waiting: next in line; h100 accelerators of its shape " \
        "are free, but their nodes lack the CPU cores or memory it asks for"
    assert reasons.reserved("h100", 0.0, 0.0, held=True).code is ReasonCode.RESERVED_HELD
    assert render(reasons.reserved("h100", 3600.0, 0.0)) == \
        "waiting: next in line; h100 capacity expected free by 1970-01-01 01:00 UTC"


def test_a_stored_reason_comes_back_and_an_unknown_code_falls_back_to_the_text() -> None:
    r = reasons.quota("h100", 8, 4)
    assert from_row(r.code.value, r.to_json()) == r
    assert from_row("no_such_code", {}) is None
    assert from_row(None, None) is None
