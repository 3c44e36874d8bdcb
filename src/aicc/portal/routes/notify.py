"""One's notification preferences, webhooks and their delivery log; and API tokens for the command line
(a token made here is pasted into ``aicc login``: the way in for people who sign in at their institution)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from aicc.core.errors import DomainError
from aicc.core.notify import Event
from aicc.portal.forms import attempt, checked, notice, refusal
from aicc.portal.routing import Member, PortalRoute
from aicc.portal.view import View
from aicc.services import tokens
from aicc.services.notify import outbox, webhooks

router = APIRouter(route_class=PortalRoute)
Csrf = Annotated[str, Form(max_length=100)]

LABELS = {
    Event.JOB_ENDED: "A job I asked about ended", Event.JOB_FAILED: "A job I asked about failed",
    Event.BUDGET_80: "A budget reached 80 %", Event.BUDGET_100: "A budget is spent",
    Event.BUDGET_PROJECTED: "A budget runs out within 7 days", Event.ALLOCATION_UNDERUSE: "An allocation is under-used",
    Event.RECLAIM_PROPOSED: "A reclaim is proposed", Event.GRANT_DECIDED: "A data grant was decided",
    Event.OUTPUT_DECIDED: "An output file was decided", Event.APPLICATION_REVIEWED: "An application moved in review",
    Event.APPLICATION_DECIDED: "An application was decided", Event.SESSION_CULL: "A session is about to be ended",
    Event.SERVICE_UNHEALTHY: "A service is unhealthy",
}
NOTICES = {"saved": "Preferences saved.", "removed": "Webhook removed."}


def _page(view: View, status: int = 200, *, error: str | None = None, done: str = "",
          secret: str | None = None, token: str | None = None) -> Response:
    p = view.principal
    with view.db.write() as s:  # the profile row appears on first visit
        profile = outbox.profile(s, p.user_id)
        prefs = outbox.preferences(s, p.user_id)
        hooks = [(h, webhooks.deliveries(s, p, h.id, limit=10)) for h in webhooks.mine(s, p)]
        lang, bounced = profile.lang, profile.bounced_address
    rows = [(e.value, LABELS[e], email, hook) for e, (email, hook) in prefs.items()]
    return view.render("notifications.html", status=status, rows=rows, lang_choice=lang, bounced=bounced,
                       hooks=hooks, error=error, done=notice(view, NOTICES, done), secret=secret, token=token)


@router.get("/account/notifications")
def notifications(view: Member, done: str = "") -> Response:
    return _page(view, done=done)


@router.post("/account/notifications")
async def save(view: Member, request: Request) -> Response:
    form = await request.form()
    checked(view, str(form.get("csrf", "")))
    uid = view.principal.user_id

    def change(s: object) -> None:
        from sqlalchemy.orm import Session

        assert isinstance(s, Session)
        outbox.set_language(s, uid, str(form.get("lang", "ko")))
        for e in Event:
            outbox.set_preference(s, uid, e, email=form.get(f"email:{e.value}") == "on",
                                  webhook=form.get(f"webhook:{e.value}") == "on")

    return attempt(view, change, lambda st, err: _page(view, st, error=err), "/account/notifications?done=saved")


@router.post("/account/webhooks")
def add_webhook(view: Member, csrf: Csrf, url: Annotated[str, Form(max_length=2000)] = "") -> Response:
    checked(view, csrf)
    try:
        with view.db.write() as s:
            _, secret = webhooks.create(s, view.principal, url.strip())
    except DomainError as exc:
        return _page(view, 422, error=refusal(view, exc))
    return _page(view, 201, secret=secret)


@router.post("/account/webhooks/{webhook_id}/delete")
def remove_webhook(view: Member, webhook_id: int, csrf: Csrf) -> Response:
    checked(view, csrf)
    return attempt(view, lambda s: webhooks.remove(s, view.principal, webhook_id),
                   lambda st, err: _page(view, st, error=err), "/account/notifications?done=removed")


@router.post("/account/tokens")
def new_cli_token(view: Member, csrf: Csrf) -> Response:
    """A 90-day API token for `aicc login`, shown once on the page."""
    checked(view, csrf)
    with view.db.write() as s:
        issued = tokens.issue(s, view.principal, user_id=None, name="command line (portal)", ttl_days=None,
                              default_ttl_days=view.settings.token_ttl_days)
    return _page(view, 201, token=issued.token)
