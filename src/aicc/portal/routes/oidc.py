"""Institutional sign-in pages: start at a provider, come back to the callback, or see why not.

The callback does its work in three steps so no network call happens inside a transaction: consume the
state (committed, so a replay fails even if the rest does), exchange and validate at the provider, then
link the user and open the session.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from aicc.core.errors import NotFound
from aicc.portal.routing import Anyone, Member, PortalRoute
from aicc.portal.session import COOKIE, TOKEN_NAME, TTL_DAYS, set_cookie
from aicc.portal.view import View
from aicc.services import tokens
from aicc.services.oidc import login
from aicc.services.oidc.client import Provider, Refusal, SignInRefused
from aicc.services.oidc.registry import Providers

router = APIRouter(route_class=PortalRoute)
log = logging.getLogger("aicc.oidc")
IDP_COOKIE = "aicc_idp"
"""The provider of this session, for signing out there too (its name only, never a token)."""

STATUS = {Refusal.UNKNOWN_PROVIDER: 404, Refusal.PROVIDER_DOWN: 503, Refusal.NO_ACCESS: 403,
          Refusal.PASSWORD_OFF: 403, Refusal.STATE: 400, Refusal.DENIED: 400, Refusal.INVALID: 400}
TEXTS = {
    Refusal.UNKNOWN_PROVIDER: "This center has no such identity provider.",
    Refusal.PROVIDER_DOWN: "The identity provider cannot be reached or is misconfigured. Try again later, or tell "
                           "the center's administrators.",
    Refusal.STATE: "This sign-in link was already used, has expired, or was not started here. Start again.",
    Refusal.DENIED: "The identity provider did not sign you in.",
    Refusal.SIGNATURE: "The identity provider's answer was not signed by its key.",
    Refusal.ISSUER: "The answer came from an identity provider this center does not trust.",
    Refusal.AUDIENCE: "The answer was meant for another service, not for this center.",
    Refusal.EXPIRED: "The identity provider's answer has expired. Start again.",
    Refusal.NONCE: "The answer does not belong to this sign-in. Start again.",
    Refusal.INVALID: "The identity provider's answer was malformed.",
    Refusal.NO_ACCESS: "Your institution's account has no access to this center yet. Ask your organization's "
                       "administrator.",
    Refusal.PASSWORD_OFF: "Password sign-in is switched off here: use your institution's account.",
}


def providers(view: View) -> Providers:
    registry: Providers = view.request.app.state.oidc
    return registry


def refused(view: View, exc: SignInRefused) -> Response:
    log.warning("sign-in refused: %s %s", exc.refusal.value, exc.detail)
    return view.render("signin_refused.html", status=STATUS.get(exc.refusal, 401), code=exc.refusal.value,
                       text=view._(TEXTS[exc.refusal]))


def _base(view: View) -> str:
    return view.settings.public_url or str(view.request.base_url).rstrip("/")


def _redirect_uri(view: View, provider: Provider) -> str:
    return f"{_base(view)}/signin/oidc/{provider.config.name}/callback"


@router.get("/signin/oidc/{name}")
def start(view: Anyone, name: str, next: str = "/") -> Response:
    from aicc.portal.routes.auth import safe_next

    try:
        provider = providers(view).get(name)
        started = provider.start(_redirect_uri(view, provider))
    except SignInRefused as exc:
        return refused(view, exc)
    with view.db.write() as s:
        login.begin(s, name, started, safe_next(next))
    return RedirectResponse(started.url, status_code=303)


@router.get("/signin/oidc/{name}/callback")
def callback(view: Anyone, name: str, state: str = "", code: str = "", error: str = "", iss: str = "") -> Response:
    try:
        provider = providers(view).get(name)
        if len(state) > 200 or len(code) > 2000:
            raise SignInRefused(Refusal.INVALID, "oversized state or code")
        with view.db.write() as s:
            started = login.consume(s, name, state)
            nonce, verifier, target = started.nonce, started.code_verifier, started.next
        if error:
            raise SignInRefused(Refusal.DENIED, f"provider answered error={error[:60]!r}")
        if iss and iss != provider.config.issuer:  # RFC 9207: the answer names who sent it
            raise SignInRefused(Refusal.ISSUER, f"authorization response from issuer {iss[:200]!r}")
        id_token = provider.exchange(code, _redirect_uri(view, provider), verifier)
        claims = provider.validate(id_token, nonce)
        with view.db.write() as s:
            user = login.sign_in(s, provider.config, claims)
            me = tokens.principal_for(s, user)
            token = tokens.issue(s, me, user_id=None, name=TOKEN_NAME, ttl_days=TTL_DAYS,
                                 default_ttl_days=TTL_DAYS).token
    except SignInRefused as exc:
        return refused(view, exc)
    response = RedirectResponse(target, status_code=303)
    set_cookie(view.request, response, COOKIE, token)
    set_cookie(view.request, response, IDP_COOKIE, name)
    return response


@router.post("/orgs/{org_id}/join-requests/{request_id}/{answer}")
def decide_join(view: Member, org_id: int, request_id: int, answer: str,
                csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    """An organization admin lets in (or not) someone who signed in at their institution without a group rule."""
    from aicc.portal.forms import checked

    checked(view, csrf)
    if answer not in ("approve", "decline"):
        raise NotFound("no such answer")
    with view.db.write() as s:
        login.decide(s, view.principal, org_id, request_id, approve=answer == "approve")
    return RedirectResponse(f"/orgs/{org_id}", status_code=303)


def logout_redirect(view: View) -> str | None:
    """Where signing out continues: the provider's end-session page, if this session came from one."""
    name = view.request.cookies.get(IDP_COOKIE)
    provider = providers(view).by_name.get(name or "")
    if provider is None:
        return None
    return provider.logout_url(None, f"{_base(view)}/signin")
