"""Korean by default, English by the switch or Accept-Language; every message translated; locale formats."""

from __future__ import annotations

import ast
import datetime as dt
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

import aicc.portal
from aicc.core.jobs import JobState
from aicc.core.jobs.reasons import Reason, ReasonCode
from aicc.core.scheduling import reasons
from aicc.core.tenancy import OrgKind, OrgRole
from aicc.portal import i18n
from aicc.portal.catalog import KO

Portal = Callable[[str | None], TestClient]
TEMPLATE_MSG = re.compile(r"""_\(\s*(?:"([^"]+)"|'([^']+)')""")


def _template_messages() -> set[str]:
    found = set()
    for t in resources.files("aicc.portal").joinpath("templates").iterdir():
        for a, b in TEMPLATE_MSG.findall(t.read_text(encoding="utf-8")):
            found.add(a or b)
    return found


def _python_messages() -> set[str]:
    found = set()
    for path in Path(aicc.portal.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_" and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.add(arg.value)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "NavItem":
                found.add(node.args[1].value)  # type: ignore[attr-defined]
    return found


def test_every_message_a_page_uses_has_a_korean_translation() -> None:
    dynamic = {s.value for s in JobState} | {k.value for k in OrgKind} | {r.value for r in OrgRole}
    used = _template_messages() | _python_messages() | dynamic
    assert len(used) > 100
    missing = sorted(m for m in used if m not in KO)
    assert not missing, f"add Korean for: {missing}"
    for message, korean in KO.items():
        assert set(re.findall(r"{\w+}", message)) == set(re.findall(r"{\w+}", korean)), message


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
