"""Korean by default, English by the switch or Accept-Language; every message translated; locale formats."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_dir
from fastapi.testclient import TestClient

import aicc.portal
from aicc.core.jobs import JobState
from aicc.core.jobs.reasons import Reason, ReasonCode
from aicc.core.scheduling import reasons
from aicc.core.tenancy import OrgKind, OrgRole
from aicc.portal import i18n

Portal = Callable[[str | None], TestClient]
ROOT = Path(aicc.portal.__file__).parent
KEYWORDS = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2)}
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]


def _extracted() -> dict[str, tuple[str, ...]]:
    """Every message the portal's templates and code say, as Babel extracts it for translators (the same
    method map as ``babel.cfg``): msgid -> all its forms."""
    out: dict[str, tuple[str, ...]] = {}
    for _file, _line, message, _comments, _ctx in extract_from_dir(
            str(ROOT), method_map=METHODS, keywords=KEYWORDS,
            options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}):
        forms = (message,) if isinstance(message, str) else tuple(message)
        out[forms[0]] = forms
    return out


def test_every_message_a_page_uses_has_a_korean_translation() -> None:
    extracted = _extracted()
    assert len(extracted) > 400
    ko = i18n.catalog("ko")
    untranslated = sorted(m for m in extracted if not (ko.get(m) is not None and ko.get(m).string))  # type: ignore[union-attr]
    assert not untranslated, f"add Korean for: {untranslated}"
    # the enums pages show as words are listed for the extractor (portal/labels.py)
    shown = {s.value for s in JobState} | {k.value for k in OrgKind} | {r.value for r in OrgRole}
    assert not sorted(shown - set(extracted))


def test_the_catalog_holds_only_what_the_code_says_so_make_messages_loses_nothing() -> None:
    """``make messages`` comments out entries the extractor no longer finds: none may be live only here."""
    extracted = _extracted()
    stale = sorted(str(m.id if isinstance(m.id, str) else m.id[0]) for m in i18n.catalog("ko")
                   if m.id and (m.id if isinstance(m.id, str) else m.id[0]) not in extracted)
    assert not stale, f"not said by any template or code any more (mark with N_ or remove): {stale}"


def test_translations_keep_every_placeholder_and_plurals_follow_the_language() -> None:
    for domain in ("messages", "server"):
        for m in i18n.catalog("ko", domain):
            if not m.id or m.context:
                continue
            ids = [m.id] if isinstance(m.id, str) else list(m.id)
            strings = [m.string] if isinstance(m.string, str) else list(m.string)
            for text in strings:
                assert set(re.findall(r"{\w+}", ids[0])) == set(re.findall(r"{\w+}", str(text))), ids[0]
    ko, en = i18n.ngettext("ko"), i18n.ngettext("en")
    assert en("{n} job", "{n} jobs", 1, n=1) == "1 job" and en("{n} job", "{n} jobs", 2, n=2) == "2 jobs"
    assert ko("{n} job", "{n} jobs", 1, n=1) == "작업 1개" and ko("{n} job", "{n} jobs", 7, n=7) == "작업 7개"
    # patterns of the server's messages with values: each compiles and fills every group it has
    for m in i18n.catalog("ko", "server"):
        if m.context:
            groups = re.compile(str(m.id)).groups
            assert set(re.findall(r"{(\d+)}", str(m.string))) == {str(i) for i in range(groups)}, m.id


@pytest.mark.parametrize(("cookie", "header", "expected"), [
    (None, None, "ko"),
    (None, "en-US,en;q=0.9", "en"),
    (None, "fr-FR, en;q=0.5, ko;q=0.8", "ko"),
    (None, "de, fr", "ko"),
    ("en", "ko-KR", "en"),
    ("ko", "en", "ko"),
    ("xx", "en;q=oops, ko;q=0.1", "ko"),
])
def test_language_negotiation(cookie: str | None, header: str | None, expected: str) -> None:
    assert i18n.negotiate(cookie, header) == expected


def test_pages_are_korean_by_default_and_english_by_switch_or_header(portal: Portal) -> None:
    c = portal("a-member")
    ko = c.get("/jobs")
    assert '<html lang="ko">' in ko.text and "작업 제출" in ko.text
    en = c.get("/jobs", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in en.text and "Submit a job" in en.text and "작업 제출" not in en.text
    r = c.get("/lang/en", params={"next": "/projects"}, follow_redirects=False)
    assert r.headers["location"] == "/projects"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("aicc_lang=en"))
    assert "Max-Age" in cookie
    assert '<html lang="en">' in c.get("/projects", headers={"Accept-Language": "ko"}).text
    c.get("/lang/ko")
    assert '<html lang="ko">' in c.get("/projects").text


def test_sign_in_page_follows_the_language_too(portal: Portal) -> None:
    anon = portal(None)
    assert "로그인" in anon.get("/signin").text
    assert "Sign in" in anon.get("/signin", headers={"Accept-Language": "en"}).text


def test_numbers_and_dates_follow_the_locale() -> None:
    t = dt.datetime(2026, 3, 5, 6, 30, tzinfo=dt.UTC)
    ko = i18n.Formats("ko", ZoneInfo("Asia/Seoul"))
    en = i18n.Formats("en", ZoneInfo("Asia/Seoul"))
    assert ko.num(1234567.25) == "1,234,567.2" or ko.num(1234567.25) == "1,234,567.3"
    assert en.num(1234.5, 0) in ("1,234", "1,235")
    assert "2026" in ko.when(t) and "3월" in ko.when(t) and "오후" in ko.when(t)  # 15:30 in Seoul
    assert "Mar" in en.when(t) and "3:30" in en.when(t)
    assert ko.day(t) == "3월 5일" and en.day(t) == "Mar 5"
    assert ko.pct(0.256) == "26%" and en.pct(0.256) == "26%"
    assert ko.duration(7200) == "2시간" and en.duration(7200) == "2 hours"


def test_job_reasons_read_in_korean_from_their_codes() -> None:
    samples = [reasons.quota("h100", 8, 0), reasons.behind_reservation(412), reasons.IDLE,
               Reason(ReasonCode.SUBMITTED), Reason(ReasonCode.CANCELLED_BY, {"user": "alice"}),
               Reason(ReasonCode.EXITED, {"code": 3})]
    for r in samples:
        korean = i18n.job_reason("ko", r.code.value, r.to_json(), r.text())
        assert korean != r.text() and re.search("[가-힣]", korean), r
        assert i18n.job_reason("en", r.code.value, r.to_json(), r.text()) == r.text()
    # a row from before codes shows its stored text; nothing parses English back
    assert i18n.job_reason("ko", None, None, "waiting: project quota of 8 h100 in use") == \
        "waiting: project quota of 8 h100 in use"
