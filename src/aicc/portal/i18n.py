"""Korean first, English second: language negotiation, the message catalog, and locale formatting.

Messages are keyed by their English text, so a template reads naturally and a
missing Korean entry shows English instead of a blank (``tests/portal`` checks
that every message used in a template has a Korean entry). Numbers and dates are
formatted by Babel (CLDR data shipped in the package, nothing fetched), in the
center's time zone, because a user compares times with the clock on the wall.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_skeleton, format_time, format_timedelta
from babel.numbers import format_decimal, format_percent

from aicc.core.jobs import reasons
from aicc.portal.catalog import EN, KO, REASONS

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


def gettext(lang: str) -> Callable[..., str]:
    """``_("Page {n}", n=2)``: translate, then fill the named fields."""
    table = KO if lang == "ko" else EN

    def _(message: str, **fields: object) -> str:
        text = table.get(message, message)
        return text.format(**fields) if fields else text

    return _


def job_reason(lang: str, code: str | None, params: Mapping[str, Any] | None, text: str) -> str:
    """A job's reason in the user's language, rendered from its code; a row from before codes shows its text."""
    r = reasons.from_row(code, params)
    return reasons.render(r, lang) if r is not None else reason(lang, text)


def reason(lang: str, text: str) -> str:
    """A message of the system (a scheduler reason, a service's refusal) in the user's language.

    They are built in English by the services (the API and CLI speak English); fixed ones are looked up in
    the catalog, service refusals with values by pattern. Jobs' reasons are data: see :func:`job_reason`.
    """
    if lang != "ko":
        return text
    if text in KO:
        return KO[text]
    for pattern, korean in REASONS:
        m = pattern.fullmatch(text)
        if m:
            return korean.format(*m.groups())
    return text


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
