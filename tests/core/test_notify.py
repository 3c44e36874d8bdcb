"""The pure part of notifications: every event has both languages, signatures and the retry schedule."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from aicc.core.notify import TEXTS, Event, backoff_s, render, signature


@pytest.mark.parametrize("event", list(Event))
def test_every_event_renders_in_korean_and_english_even_with_values_missing(event: Event) -> None:
    ko_subject, ko_body = render(event, "ko", {})
    en_subject, en_body = render(event, "en", {})
    assert set(TEXTS[event]) == {"ko", "en"}
    assert ko_subject and en_subject and ko_subject != en_subject and ko_body != en_body
    assert "{" not in ko_body + en_body  # a missing value shows as a dash, never a placeholder or a crash


def test_an_unknown_language_falls_back_to_korean() -> None:
    assert render(Event.BUDGET_100, "fr", {"allocation": "A"}) == render(Event.BUDGET_100, "ko", {"allocation": "A"})


def test_the_signature_covers_timestamp_and_body() -> None:
    sig = signature("whsec_x", 1700000000, b'{"a":1}')
    assert sig == "sha256=" + hmac.new(b"whsec_x", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert sig != signature("whsec_x", 1700000001, b'{"a":1}') != signature("whsec_y", 1700000000, b'{"a":1}')


def test_backoff_doubles_and_is_capped_at_an_hour() -> None:
    assert [backoff_s(n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff_s(30) == 3600
