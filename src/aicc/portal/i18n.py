"""Korean first, English second: language negotiation, gettext catalogs, and locale formatting.

Messages are keyed by their English text (gettext's msgid), so a template reads naturally and a missing
translation shows English instead of a blank. The catalogs are ordinary ``.po`` files under ``locale/`` — a
translator works in Poedit or Weblate without reading Python:

- ``<lang>/LC_MESSAGES/messages.po``: what the templates and the portal's code say, extracted by Babel
  (``make messages``); ``tests/portal/test_i18n.py`` fails on an extracted message without Korean.
- ``ko/LC_MESSAGES/server.po``: the server's own refusals and notices as the services word them in English,
  whole (no context) or as patterns with values (contexts ``reason-pattern``, ``refusal-pattern``).

Numbers and dates are formatted by Babel (CLDR data shipped in the package, nothing fetched), in the
center's time zone, because a user compares times with the clock on the wall.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_skeleton, format_time, format_timedelta
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import Translations

from aicc.core.jobs import reasons

LANGS = ("ko", "en")
DEFAULT = "ko"
LOCALES = {"ko": "ko_KR", "en": "en_US"}
COOKIE = "aicc_lang"


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The user's explicit choice (cookie), else the best of Accept-Language, else Korean."""
    if cookie in LANGS:
        return cookie
    best, best_q = DEFAULT, 0.0
    for part in (accept_language or "").split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        q = 1.0
        m = re.search(r"q=([^;,\s]*)", params)
        if m:
            try:
                q = float(m.group(1))
            except ValueError:
                q = 0.0  # a malformed weight counts as "not acceptable"
        lang = tag.strip().lower().split("-")[0]
        if lang in LANGS and q > best_q:
            best, best_q = lang, q
    return best


def N_(message: str) -> str:
    """Mark a message for the extractor where it is defined; a page translates it where it is shown."""
    return message


@functools.cache
def catalog(lang: str, domain: str = "messages") -> Catalog:
    """The ``.po`` file as Babel reads it (empty for a language or domain without one)."""
    path = resources.files("aicc.portal").joinpath("locale", lang, "LC_MESSAGES", f"{domain}.po")
    if not path.is_file():
        return Catalog(locale=lang, domain=domain)
    with path.open("rb") as f:
        return read_po(f, locale=lang, domain=domain)


@functools.cache
def translations(lang: str, domain: str = "messages") -> Translations:
    """Compiled in memory from the ``.po`` (no build step, no ``.mo`` to forget to regenerate). The portal's
    messages fall back to the server's fixed ones, which pages show as they come (``_(error)``)."""
    buf = io.BytesIO()
    write_mo(buf, catalog(lang, domain))
    buf.seek(0)
    t = Translations(buf, domain=domain)
    if domain == "messages":
        t.add_fallback(translations(lang, "server"))
    return t


@functools.cache
def _patterns(context: str) -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((re.compile(str(m.id)), str(m.string)) for m in catalog("ko", "server")
                 if m.context == context and m.id and m.string)


def gettext(lang: str) -> Callable[..., str]:
    """``_("Page {n}", n=2)``: translate, then fill the named fields."""
    t = translations(lang)

    def _(message: str, **fields: object) -> str:
        text = t.gettext(message)
        return text.format(**fields) if fields else text

    return _


def ngettext(lang: str) -> Callable[..., str]:
    """``ngettext("{n} job", "{n} jobs", count, n=shown)``: the plural form of ``count`` in the language."""
    t = translations(lang)

    def ngettext_(singular: str, plural: str, count: int, **fields: object) -> str:
        text = t.ngettext(singular, plural, count)
        return text.format(**fields) if fields else text

    return ngettext_


def _server(text: str) -> str | None:
    """A fixed message of the server in Korean: a portal message, else one of the services' own."""
    for domain in ("messages", "server"):
        hit = catalog("ko", domain).get(text)
        if hit is not None and hit.string and not hit.pluralizable:
            return str(hit.string)
    return None


def job_reason(lang: str, code: str | None, params: Mapping[str, Any] | None, text: str) -> str:
    """A job's reason in the user's language, rendered from its code; a row from before codes shows its text."""
    r = reasons.from_row(code, params)
    return josa(reasons.render(r, lang)) if r is not None else reason(lang, text)


def reason(lang: str, text: str) -> str:
    """A message of the system (a scheduler reason, a service's refusal) in the user's language.

    They are built in English by the services (the API and CLI speak English); fixed ones are looked up in
    the catalog, service refusals with values by pattern. Jobs' reasons are data: see :func:`job_reason`.
    """
    if lang != "ko":
        return text
    fixed = _server(text)
    if fixed is not None:
        return fixed
    for pattern, korean in _patterns("reason-pattern"):
        m = pattern.fullmatch(text)
        if m:
            return josa(korean.format(*m.groups()))
    return text


def refusal(lang: str, text: str) -> str:
    """A service's refusal of a form's input (validation, not a scheduler reason) in the user's language:
    whole messages by pattern, and the parts of a "; "-joined list one by one."""
    if lang != "ko":
        return text
    for pattern, korean in _patterns("refusal-pattern"):
        m = pattern.fullmatch(text)
        if m:
            return josa(korean.format(*(refusal(lang, g) if g else g for g in m.groups())))
    if "; " in text:
        return "; ".join(refusal(lang, part) for part in text.split("; "))
    return reason(lang, text)


# Korean particles depend on whether the word before ends in a consonant (받침): 3으로 but 2로, 코드를 but
# 값을. Digits are read in Sino-Korean (일, 이, 삼 …); ㄹ takes 로, not 으로.
_DIGIT_FINAL = {"0": "ㅇ", "1": "ㄹ", "2": "", "3": "ㅁ", "4": "", "5": "", "6": "ㄱ", "7": "ㄹ", "8": "ㄹ", "9": ""}
_FINALS = ["", "ㄱ", "ㄲ", "ㄳ", "ㄴ", "ㄵ", "ㄶ", "ㄷ", "ㄹ", "ㄺ", "ㄻ", "ㄼ", "ㄽ", "ㄾ", "ㄿ", "ㅀ", "ㅁ", "ㅂ",
           "ㅄ", "ㅅ", "ㅆ", "ㅇ", "ㅈ", "ㅊ", "ㅋ", "ㅌ", "ㅍ", "ㅎ"]
_PARTICLES = re.compile(r"(?<=(\S))(\(으\)로|을\(를\)|이\(가\)|은\(는\)|과\(와\))")
_CHOICE = {"(으)로": ("으로", "로"), "을(를)": ("을", "를"), "이(가)": ("이", "가"), "은(는)": ("은", "는"),
           "과(와)": ("과", "와")}


def final_consonant(ch: str) -> str | None:
    """The final consonant of a Hangul syllable or a digit as read aloud ("" for none), None if unknown."""
    if ch in _DIGIT_FINAL:
        return _DIGIT_FINAL[ch]
    if "가" <= ch <= "힣":
        return _FINALS[(ord(ch) - 0xAC00) % 28]
    return None


def josa(text: str) -> str:
    """Resolve written-both-ways particles (``3(으)로``, ``값을(를)``) where the word before them is Hangul or a
    digit; elsewhere (a Latin name) both forms stay, as Korean writers do."""
    def pick(m: re.Match[str]) -> str:
        final = final_consonant(m.group(1))
        if final is None:
            return m.group(2)
        consonant, vowel = _CHOICE[m.group(2)]
        if m.group(2) == "(으)로":
            return vowel if final in ("", "ㄹ") else consonant
        return consonant if final else vowel

    return _PARTICLES.sub(pick, text)


class Formats:
    """Locale- and zone-aware formatting, bound to one request's language."""

    def __init__(self, lang: str, tz: ZoneInfo) -> None:
        self.locale = LOCALES[lang]
        self.tz = tz

    def num(self, value: float | int | None, digits: int = 1) -> str:
        if value is None:
            return "–"
        fmt = "#,##0" if digits == 0 else "#,##0." + "#" * digits
        return format_decimal(value, format=fmt, locale=self.locale)

    def su(self, value: float | None) -> str:
        """Service units: one decimal, three below 10 so a short job's first charge does not read as zero."""
        return self.num(value, 1 if value is None or abs(value) >= 10 else 3)

    def pct(self, value: float | None) -> str:
        return "–" if value is None else format_percent(value, format="#,##0%", locale=self.locale)

    def when(self, value: dt.datetime | None, style: str = "medium") -> str:
        """"medium": 2026년 3월 5일 오후 3:30 / Mar 5, 2026, 3:30 PM; "short": 2026. 3. 5. 오후 3:30."""
        if value is None:
            return "–"
        skeleton = {"medium": "yMMMd", "short": "yMd"}.get(style)
        if skeleton is None:
            return format_datetime(value, format=style, tzinfo=self.tz, locale=self.locale)
        date = format_skeleton(skeleton, value, tzinfo=self.tz, locale=self.locale)
        return f"{date} {format_time(value, 'short', tzinfo=self.tz, locale=self.locale)}"

    def date(self, value: dt.datetime | None) -> str:
        """The day alone, with its year: 2026년 3월 5일 / Mar 5, 2026."""
        if value is None:
            return "–"
        return format_skeleton("yMMMd", value, tzinfo=self.tz, locale=self.locale)

    def day(self, value: dt.datetime | None) -> str:
        if value is None:
            return "–"
        return format_skeleton("MMMd", value, tzinfo=self.tz, locale=self.locale)

    def iso(self, value: dt.datetime | None) -> str:
        return "" if value is None else value.astimezone(dt.UTC).isoformat(timespec="seconds")

    def duration(self, seconds: float | None) -> str:
        if seconds is None:
            return "–"
        return format_timedelta(dt.timedelta(seconds=seconds), threshold=1.2, locale=self.locale)

    def stamp(self, iso: str) -> str:
        """An ISO 8601 time as stored (audit events), shown like :meth:`when`; unparsable text as it is."""
        try:
            value = dt.datetime.fromisoformat(iso)
        except ValueError:
            return iso
        return self.when(value if value.tzinfo else value.replace(tzinfo=dt.UTC), "short")

    def local_input(self, value: dt.datetime) -> str:
        """The value of an ``<input type="datetime-local">``: wall-clock time in the center's zone."""
        return value.astimezone(self.tz).strftime("%Y-%m-%dT%H:%M")

    def local_date(self, value: dt.datetime | None) -> str:
        """The value of an ``<input type="date">``."""
        return "" if value is None else value.astimezone(self.tz).date().isoformat()
