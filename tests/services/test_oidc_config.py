"""A malformed OIDC file stops the start with a reason an admin can act on, and never prints a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from aicc.api.app import create_app
from aicc.config import Settings
from aicc.core.tenancy import OrgRole
from aicc.services.oidc.config import OidcConfigError, parse
from aicc.store.db import Database

GOOD = """
[[providers]]
name = "gist"
issuer = "https://idp.gist.example/"
client_id = "aicc"
client_secret_env = "GIST_SECRET"
  [[providers.groups]]
  claim = "groups"
  value = "lab"
  org = "gist"
  role = "org_admin"
"""


def test_a_good_file_reads_with_the_secret_from_the_environment_and_hidden_from_repr() -> None:
    [p] = parse(GOOD, {"GIST_SECRET": "s3cr3t-value"})
    assert p.issuer == "https://idp.gist.example" and p.client_secret == "s3cr3t-value"
    assert p.groups[0].role is OrgRole.ORG_ADMIN and p.scopes == ("openid", "email", "profile")
    assert "s3cr3t-value" not in repr(p)


@pytest.mark.parametrize(("text", "env", "message"), [
    (GOOD, {}, r"GIST_SECRET \(client secret\) is not set"),
    (GOOD.replace("https://idp.gist.example/", "http://idp.gist.example"), {"GIST_SECRET": "SECRETVALUE"}, "https URL"),
    (GOOD.replace('role = "org_admin"', 'role = "owner"'), {"GIST_SECRET": "SECRETVALUE"}, "role must be one of"),
    (GOOD + GOOD, {"GIST_SECRET": "SECRETVALUE"}, "named twice"),
    (GOOD.replace('name = "gist"', 'name = "GIST IdP"'), {"GIST_SECRET": "SECRETVALUE"}, "lowercase"),
    ("[[providers]\nname=", {}, "not valid TOML"),
])
def test_a_malformed_file_is_refused_with_the_reason(text: str, env: dict[str, str], message: str) -> None:
    with pytest.raises(OidcConfigError, match=message) as caught:
        parse(text, env)
    assert "SECRETVALUE" not in str(caught.value)


def test_the_server_does_not_start_with_a_malformed_file(settings: Settings, db: Database, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "oidc.toml"
    path.write_text(GOOD)
    monkeypatch.delenv("GIST_SECRET", raising=False)
    s = Settings(home=settings.home, database_url=db.url, controller=False, oidc_file=path)
    with pytest.raises(OidcConfigError, match="provider 'gist': the environment variable GIST_SECRET"):
        create_app(s, db)
