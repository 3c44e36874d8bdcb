"""Talking to one OpenID provider: discovery, the authorization URL (PKCE, state, nonce), the code exchange,
and ID token validation (signature against the provider's JWKS, iss, aud, azp, exp, iat, nonce).

JOSE is joserfc (Authlib's JOSE library, by Authlib's author); PKCE and random values are Authlib's.
No network call happens inside a database transaction: callers fetch first, then write.
"""

from __future__ import annotations

import enum
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from aicc.services.oidc.config import ProviderConfig

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
LEEWAY_S = 60
TIMEOUT_S = 10.0


class Refusal(enum.StrEnum):
    """Why a sign-in was refused; each has its own page (``portal/routes/oidc.py``)."""

    UNKNOWN_PROVIDER = "unknown_provider"
    PROVIDER_DOWN = "provider_down"
    STATE = "state"
    """No sign-in started with this state, or it was used already (a replayed callback), or it is too old."""
    DENIED = "denied"
    SIGNATURE = "signature"
    ISSUER = "issuer"
    AUDIENCE = "audience"
    EXPIRED = "expired"
    NONCE = "nonce"
    INVALID = "invalid"
    NO_ACCESS = "no_access"
    PASSWORD_OFF = "password_off"  # noqa: S105 (a reason code, not a secret)


CLAIM_REFUSALS = {"iss": Refusal.ISSUER, "aud": Refusal.AUDIENCE, "exp": Refusal.EXPIRED, "iat": Refusal.EXPIRED,
                  "nbf": Refusal.EXPIRED, "nonce": Refusal.NONCE}


class SignInRefused(Exception):
    def __init__(self, refusal: Refusal, detail: str = "") -> None:
        super().__init__(f"{refusal.value}: {detail}")
        self.refusal = refusal
        self.detail = detail
        """For the server's log and an admin: never a token, a code or a secret."""


@dataclass(frozen=True, slots=True)
class Metadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None
    device_authorization_endpoint: str | None


@dataclass(frozen=True, slots=True)
class Started:
    url: str
    state: str
    nonce: str
    code_verifier: str


class Provider:
    """One configured provider, its discovered metadata and keys (refetched when an unknown key id appears)."""

    def __init__(self, config: ProviderConfig, http: httpx.Client | None = None) -> None:
        self.config = config
        self._http = http or httpx.Client(timeout=TIMEOUT_S, follow_redirects=False)
        self._lock = threading.Lock()
        self._meta: Metadata | None = None
        self._keys: KeySet | None = None
        self.error: str | None = None
        """Why discovery failed (admin-readable, shown on the sign-in page); None once it works."""

    def metadata(self) -> Metadata:
        with self._lock:
            if self._meta is not None:
                return self._meta
        try:
            meta = self._discover()
        except SignInRefused as exc:
            self.error = exc.detail
            raise
        with self._lock:
            self._meta, self.error = meta, None
        return meta

    def _discover(self) -> Metadata:
        url = self.config.issuer + "/.well-known/openid-configuration"
        try:
            r = self._http.get(url)
            r.raise_for_status()
            doc = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SignInRefused(Refusal.PROVIDER_DOWN, f"discovery document {url} unreachable: "
                                f"{type(exc).__name__}") from None
        if not isinstance(doc, dict) or doc.get("issuer") != self.config.issuer:
            raise SignInRefused(Refusal.PROVIDER_DOWN, f"discovery document {url} names issuer "
                                f"{doc.get('issuer') if isinstance(doc, dict) else None!r}, "
                                f"not the configured {self.config.issuer!r}")
        try:
            return Metadata(doc["issuer"], doc["authorization_endpoint"], doc["token_endpoint"], doc["jwks_uri"],
                            doc.get("end_session_endpoint"), doc.get("device_authorization_endpoint"))
        except KeyError as exc:
            raise SignInRefused(Refusal.PROVIDER_DOWN, f"discovery document {url} lacks {exc}") from None

    def keys(self, *, refresh: bool = False) -> KeySet:
        with self._lock:
            if self._keys is not None and not refresh:
                return self._keys
        try:
            r = self._http.get(self.metadata().jwks_uri)
            r.raise_for_status()
            keys = KeySet.import_key_set(r.json())
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            raise SignInRefused(Refusal.PROVIDER_DOWN, f"JWKS unreachable or malformed: {type(exc).__name__}") from None
        with self._lock:
            self._keys = keys
        return keys

    def start(self, redirect_uri: str) -> Started:
        meta = self.metadata()
        state, nonce, verifier = generate_token(43), generate_token(32), generate_token(64)
        query = urlencode({
            "response_type": "code", "client_id": self.config.client_id, "redirect_uri": redirect_uri,
            "scope": " ".join(self.config.scopes), "state": state, "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256",
        })
        sep = "&" if "?" in meta.authorization_endpoint else "?"
        return Started(f"{meta.authorization_endpoint}{sep}{query}", state, nonce, verifier)

    def exchange(self, code: str, redirect_uri: str, code_verifier: str) -> str:
        """The code for tokens at the token endpoint (client_secret_basic); returns the raw ID token."""
        meta = self.metadata()
        try:
            r = self._http.post(meta.token_endpoint, data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            }, auth=(self.config.client_id, self.config.client_secret))
        except httpx.HTTPError as exc:
            raise SignInRefused(Refusal.PROVIDER_DOWN, f"token endpoint unreachable: {type(exc).__name__}") from None
        body = _json(r)
        if r.status_code != 200 or not isinstance(body.get("id_token"), str):
            raise SignInRefused(Refusal.INVALID, f"token endpoint answered {r.status_code} "
                                f"{str(body.get('error', ''))[:100]}")
        return str(body["id_token"])

    def validate(self, id_token: str, nonce: str | None, *, now: float | None = None) -> dict[str, Any]:
        """The ID token's claims if its signature, issuer, audience, times and nonce hold; else SignInRefused.

        ``nonce=None`` for tokens a client obtained without one (the device flow), where it is not checked.
        """
        try:
            try:
                token = jwt.decode(id_token, self.keys(), algorithms=ALGORITHMS)
            except InvalidKeyIdError:  # the provider rotated its keys: fetch them once more
                token = jwt.decode(id_token, self.keys(refresh=True), algorithms=ALGORITHMS)
        except (BadSignatureError, InvalidKeyIdError) as exc:
            raise SignInRefused(Refusal.SIGNATURE, f"ID token signature: {exc.error}") from None
        except JoseError as exc:
            raise SignInRefused(Refusal.INVALID, f"ID token malformed: {exc.error}") from None
        except ValueError:
            raise SignInRefused(Refusal.INVALID, "ID token malformed") from None
        claims = dict(token.claims)
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": self.config.issuer},
            "aud": {"essential": True, "value": self.config.client_id},
            "exp": {"essential": True}, "iat": {"essential": True}, "sub": {"essential": True},
        }
        if nonce is not None:
            options["nonce"] = {"essential": True, "value": nonce}
        clock = int(time.time() if now is None else now)
        try:
            jwt.JWTClaimsRegistry(now=clock, leeway=LEEWAY_S, **options).validate(claims)
        except ExpiredTokenError:
            raise SignInRefused(Refusal.EXPIRED, "ID token expired") from None
        except (InvalidClaimError, MissingClaimError) as exc:
            refusal = CLAIM_REFUSALS.get(exc.claim, Refusal.INVALID)
            raise SignInRefused(refusal, f"ID token claim: {exc.description or exc.error}") from None
        several = isinstance(claims.get("aud"), list) and len(claims["aud"]) > 1
        if several and claims.get("azp") != self.config.client_id:
            raise SignInRefused(Refusal.AUDIENCE, "ID token for several audiences without azp = our client")
        return claims

    def logout_url(self, id_token_hint: str | None, post_logout_redirect_uri: str) -> str | None:
        try:
            meta = self.metadata()
        except SignInRefused:
            return None
        if not meta.end_session_endpoint:
            return None
        params = {"client_id": self.config.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        if id_token_hint:
            params["id_token_hint"] = id_token_hint
        sep = "&" if "?" in meta.end_session_endpoint else "?"
        return f"{meta.end_session_endpoint}{sep}{urlencode(params)}"


def _json(r: httpx.Response) -> dict[str, Any]:
    try:
        body = r.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
