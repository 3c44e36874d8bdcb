"""The center's providers for one server process: built at start-up, discovered lazily and remembered."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aicc.config import Settings
from aicc.services.oidc.client import Provider, Refusal, SignInRefused
from aicc.services.oidc.config import load

log = logging.getLogger("aicc.oidc")


@dataclass
class Providers:
    by_name: dict[str, Provider]
    password_signin: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> Providers:
        """Raises ``OidcConfigError`` for a malformed file: the server does not start half-configured."""
        return cls({c.name: Provider(c) for c in load(settings.oidc_file)}, settings.password_signin)

    def get(self, name: str) -> Provider:
        provider = self.by_name.get(name)
        if provider is None:
            raise SignInRefused(Refusal.UNKNOWN_PROVIDER, f"no provider named {name[:63]!r} is configured")
        return provider

    def check_all(self) -> None:
        """Discover every provider once at start-up; a failure is logged for the admin and shown on the
        sign-in page, and that provider is tried again on its next use."""
        for provider in self.by_name.values():
            try:
                provider.metadata()
                log.info("identity provider %s ready (%s)", provider.config.name, provider.config.issuer)
            except SignInRefused as exc:
                log.error("identity provider %s unavailable: %s", provider.config.name, exc.detail)
