"""Portal sessions: a short-lived API token in an HttpOnly cookie, and CSRF tokens derived from it.

Signing in issues an ordinary API token ("portal session", one day) for the user:
no session table, the same revocation (signing out, an admin disabling the user)
and the same authorization as the API, because the portal authenticates the
cookie exactly as the API authenticates a bearer token. JavaScript never sees it
(HttpOnly), other sites never send it on a POST (SameSite=Lax), and every form
carries a CSRF token that only the holder of the cookie can compute.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

from fastapi import Request, Response
from sqlalchemy.orm import Session

from aicc.services import tokens, users
from aicc.services.principal import Principal
from aicc.store.db import Database

COOKIE = "aicc_session"
PRE_COOKIE = "aicc_presession"
"""Random value for the sign-in form, before there is a session (double-submit against login CSRF)."""
TOKEN_NAME = "portal session"  # noqa: S105 (a label, not a secret)
TTL_DAYS = 1


class NeedsSignIn(Exception):
    """No valid session: the portal redirects to the sign-in page and comes back afterwards."""


class BadCsrf(Exception):
    """A form without the CSRF token of this session: refused with 403, nothing changes."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    principal: Principal
    token: str
    display_name: str

    @property
    def csrf(self) -> str:
        return csrf_for(self.token)


def csrf_for(secret: str) -> str:
    return hmac.new(secret.encode(), b"aicc-portal-csrf", hashlib.sha256).hexdigest()[:40]


def check_csrf(expected: str, given: str | None) -> None:
    if not given or not hmac.compare_digest(expected, given):
        raise BadCsrf()


def current(request: Request, db: Database) -> SignedIn:
    """The signed-in user of this request, or :class:`NeedsSignIn`."""
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 200:
        raise NeedsSignIn()
    try:
        with db.read() as s:
            principal = tokens.authenticate(s, token)
            user = users.get(s, principal, principal.user_id)
            name = user.display_name or user.username
    except tokens.Unauthenticated:
        raise NeedsSignIn() from None
    return SignedIn(principal, token, name)


def sign_in(s: Session, username: str, password: str) -> str:
    """Check the password and issue the session token; raises ``tokens.Unauthenticated``."""
    user = users.sign_in(s, username.strip().lower(), password)
    me = tokens.principal_for(s, user)
    return tokens.issue(s, me, user_id=None, name=TOKEN_NAME, ttl_days=TTL_DAYS, default_ttl_days=TTL_DAYS).token


def sign_out(s: Session, signed: SignedIn) -> None:
    """Revoke the session's token, so a copied cookie stops working too."""
    public_id = signed.token.split("_")[1] if signed.token.count("_") >= 2 else ""
    for row in tokens.list_tokens(s, signed.principal):
        if row.public_id == public_id:
            tokens.revoke(s, signed.principal, row.id)


def set_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")


def presession(request: Request) -> str:
    value = request.cookies.get(PRE_COOKIE)
    return value if value and len(value) == 32 else secrets.token_hex(16)


class Throttle:
    """At most ``limit`` failed sign-ins per key (a username, a client address) in ``window`` seconds.

    In memory, per process: it slows guessing down by orders of magnitude without a
    table, and a person who mistyped waits a few minutes at most. scrypt's cost
    already bounds how fast one process can check guesses.
    """

    def __init__(self, limit: int = 5, window: float = 300.0) -> None:
        self.limit, self.window = limit, window
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] < now - self.window:
            q.popleft()
        return q

    def blocked(self, key: str) -> bool:
        with self._lock:
            return len(self._recent(key, time.monotonic())) >= self.limit

    def fail(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > 100_000:
                self._failures.clear()
            self._recent(key, now).append(now)

    def clear(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
