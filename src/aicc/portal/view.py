"""Per-request view state (language, formats, who is signed in) and page rendering.

Every page gets the same few names in its template: ``_`` (translate), ``f``
(locale formatting), ``me`` (the signed-in user or None), ``nav`` (what this
user's roles open) and ``csrf``. Templates are autoescaped; nothing a user typed
reaches the page unescaped.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from aicc.config import Settings
from aicc.portal import i18n
from aicc.portal.i18n import N_
from aicc.portal.session import PRE_COOKIE, SignedIn, presession, set_cookie
from aicc.services.principal import Principal
from aicc.store.db import Database


@functools.cache
def environment() -> Environment:
    env = Environment(loader=PackageLoader("aicc.portal", "templates"), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      extensions=["jinja2.ext.i18n"])
    return env


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True, slots=True)
class NavItem:
    href: str
    label: str
    ready: bool = True
    """False: a slot for a domain being built elsewhere (programs, data zone); the page says so."""


def navigation(me: SignedIn | None) -> list[NavItem]:
    if me is None:
        return []
    p = me.principal
    items = [NavItem("/", N_("Dashboard")), NavItem("/jobs", N_("Jobs")), NavItem("/jobs/new", N_("Submit a job")),
             NavItem("/sessions", N_("Sessions")), NavItem("/projects", N_("Projects"))]
    if p.is_center_admin or any(p.is_org_admin(o) for o in p.org_roles):
        items.append(NavItem("/orgs", N_("Organization")))
    if p.is_center_admin:
        items.append(NavItem("/center", N_("Center")))
    items += [NavItem("/programs", N_("Programs")), NavItem("/datazone", N_("Data zone")),
              NavItem("/testbed", N_("Testbed")), NavItem("/services", N_("Services"))]
    return items


@dataclass
class View:
    request: Request
    lang: str
    me: SignedIn | None
    settings: Settings
    db: Database

    @property
    def _(self) -> Callable[..., str]:
        return i18n.gettext(self.lang)

    @property
    def f(self) -> i18n.Formats:
        return i18n.Formats(self.lang, _zone(self.settings.timezone))

    @property
    def principal(self) -> Principal:
        """The signed-in user's principal (pages behind ``Member`` always have one)."""
        assert self.me is not None
        return self.me.principal

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        path = self.request.url.path
        here = path + (f"?{self.request.url.query}" if self.request.url.query else "")
        csrf = self.me.csrf if self.me else presession(self.request)
        html = environment().get_template(template).render(
            _=self._, gettext=self._, ngettext=i18n.ngettext(self.lang), f=self.f, me=self.me, lang=self.lang,
            path=path, here=here, csrf=csrf, reason=self.reason,
            job_reason=self.job_reason, nav=navigation(self.me), **context)
        response = HTMLResponse(html, status_code=status)
        if self.me is None and self.request.cookies.get(PRE_COOKIE) != csrf:
            set_cookie(self.request, response, PRE_COOKIE, csrf)
        return response

    def reason(self, text: str) -> str:
        return i18n.reason(self.lang, text)

    def job_reason(self, job: Any) -> str:
        """A job row's reason, rendered from its code in this page's language."""
        return i18n.job_reason(self.lang, job.reason_code, job.reason_params, job.reason)
    def refusal(self, text: str) -> str:
        """A service's refusal of a form's input, in the user's language."""
        return i18n.refusal(self.lang, text)
