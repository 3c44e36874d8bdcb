"""The center's identity providers, from a TOML file (``AICC_OIDC_FILE``); secrets come from the environment.

    [[providers]]
    name = "gist"                      # in URLs and in user_identities.provider
    label = "GIST"                     # on the sign-in button
    issuer = "https://idp.gist.ac.kr"  # discovery: ISSUER/.well-known/openid-configuration
    client_id = "aicc"
    client_secret_env = "AICC_OIDC_GIST_SECRET"
    scopes = ["openid", "email", "profile", "groups"]
    link_claim = "email"               # first sign-in links the user with this email, else creates one
    approval_org = "gist"              # no group matched: ask this organization's admins (omit: no access)
    approval_role = "member"
      [[providers.groups]]             # claim value -> organization and role, first match per organization
      claim = "groups"
      value = "aicc-ml-lab"
      org = "gist"
      role = "member"

The file is checked when the server starts: a malformed one stops it with the reason; a provider that
cannot be reached is logged and shown on the sign-in page, and the others keep working.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from aicc.core.tenancy import OrgRole

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class OidcConfigError(ValueError):
    """The OIDC file is malformed; the message names the provider and the field, never a secret."""


@dataclass(frozen=True, slots=True)
class GroupRule:
    claim: str
    value: str
    org: str
    role: OrgRole


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    name: str
    label: str
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    link_claim: str = "email"
    groups: tuple[GroupRule, ...] = ()
    approval_org: str | None = None
    approval_role: OrgRole = OrgRole.MEMBER


def _str(item: dict[str, object], key: str, where: str, default: str | None = None) -> str:
    value = item.get(key, default)
    if not isinstance(value, str) or not value:
        raise OidcConfigError(f"{where}: {key} must be a non-empty string")
    return value


def _role(value: object, where: str) -> OrgRole:
    try:
        return OrgRole(str(value))
    except ValueError:
        raise OidcConfigError(f"{where}: role must be one of {[r.value for r in OrgRole]}") from None


def parse(text: str, env: dict[str, str]) -> list[ProviderConfig]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise OidcConfigError(f"not valid TOML: {exc}") from None
    providers: list[ProviderConfig] = []
    for i, item in enumerate(data.get("providers", [])):
        where = f"providers[{i}]"
        name = _str(item, "name", where)
        if not NAME_RE.match(name):
            raise OidcConfigError(f"{where}: name must be lowercase letters, digits and '-'")
        where = f"provider {name!r}"
        if any(p.name == name for p in providers):
            raise OidcConfigError(f"{where}: named twice")
        issuer = _str(item, "issuer", where).rstrip("/")
        if not issuer.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise OidcConfigError(f"{where}: issuer must be an https URL (plain http only on loopback)")
        secret_env = _str(item, "client_secret_env", where)
        secret = env.get(secret_env, "")
        if not secret:
            raise OidcConfigError(f"{where}: the environment variable {secret_env} (client secret) is not set")
        scopes = item.get("scopes", ["openid", "email", "profile"])
        if not isinstance(scopes, list) or "openid" not in scopes:
            raise OidcConfigError(f"{where}: scopes must be a list that includes 'openid'")
        rules = tuple(GroupRule(_str(g, "claim", where), _str(g, "value", where), _str(g, "org", where),
                                _role(g.get("role", "member"), where)) for g in item.get("groups", []))
        providers.append(ProviderConfig(
            name=name, label=_str(item, "label", where, name), issuer=issuer, client_id=_str(item, "client_id", where),
            client_secret=secret, scopes=tuple(str(s) for s in scopes),
            link_claim=_str(item, "link_claim", where, "email"), groups=rules,
            approval_org=item.get("approval_org") or None,
            approval_role=_role(item.get("approval_role", "member"), where),
        ))
    return providers


def load(path: Path | None, env: dict[str, str] | None = None) -> list[ProviderConfig]:
    if path is None:
        return []
    try:
        text = path.read_text()
    except OSError as exc:
        raise OidcConfigError(f"cannot read {path}: {exc.strerror}") from None
    return parse(text, dict(os.environ) if env is None else env)
