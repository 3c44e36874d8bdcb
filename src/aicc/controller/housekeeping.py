"""Housekeeping: the controller's slow duties, about hourly, that must never stop scheduling."""

from __future__ import annotations

import datetime as dt
import logging
import time

from aicc.config import Settings
from aicc.services import agreements
from aicc.services.principal import SYSTEM
from aicc.store.db import Database

log = logging.getLogger("aicc.controller")
HOUSEKEEPING_S = 3600.0


class Housekeeping:
    """Mixed into ``Controller``."""

    db: Database
    settings: Settings
    _last_housekeeping: float

    def _housekeeping(self, now: dt.datetime) -> None:
        """Slow duties, about hourly: the support programs' utilization check (it skips agreements checked
        within their call's interval, so running it often costs little and never double-warns)."""
        if time.monotonic() - self._last_housekeeping < HOUSEKEEPING_S:
            return
        self._last_housekeeping = time.monotonic()
        try:
            with self.db.write() as s:
                agreements.check_utilization(s, SYSTEM, now=now)
        except Exception:  # a bad agreement must not stop scheduling
            log.exception("utilization check failed; retrying at the next housekeeping")
        try:
            from aicc.services import job_files, workspaces

            job_files.expire(self.db, self.settings, now)
            workspaces.expire_retired(self.db, self.settings)
            workspaces.expire_uploads(self.db, self.settings)
        except Exception:  # a directory that cannot be removed must not stop scheduling
            log.exception("expiring job directories failed; retrying at the next housekeeping")
        try:
            from aicc.services import storage_metering, workspaces

            workspaces.sync_quotas(self.db, self.settings)  # allocations that began or ended change quotas
            storage_metering.charge_all(self.db, self.settings, now)
        except Exception:  # a workspace that cannot be measured must not stop scheduling
            log.exception("workspace quotas or storage charging failed; retrying at the next housekeeping")
