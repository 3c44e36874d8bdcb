"""Settings, from environment variables only (twelve-factor; nothing to edit in code).

AICC_HOME           working directory for the database, job directories and logs (default ./var)
AICC_DATABASE_URL   SQLAlchemy URL; default sqlite:///$AICC_HOME/aicc.db
AICC_INVENTORY      inventory TOML loaded by `aicc admin inventory load` / the demo
AICC_MAX_BODY_BYTES largest request body accepted (default 1 MiB)
AICC_TOKEN_TTL_DAYS default lifetime of new API tokens (default 90)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    database_url: str
    max_body_bytes: int = 1 << 20
    token_ttl_days: int = 90

    @property
    def jobs_dir(self) -> Path:
        return self.home / "jobs"


def load_settings(env: dict[str, str] | None = None) -> Settings:
    e = dict(os.environ) if env is None else env
    home = Path(e.get("AICC_HOME", "var")).absolute()
    url = e.get("AICC_DATABASE_URL") or f"sqlite:///{home / 'aicc.db'}"
    return Settings(
        home=home,
        database_url=url,
        max_body_bytes=int(e.get("AICC_MAX_BODY_BYTES", str(1 << 20))),
        token_ttl_days=int(e.get("AICC_TOKEN_TTL_DAYS", "90")),
    )
