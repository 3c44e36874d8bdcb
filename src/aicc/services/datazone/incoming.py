"""Custodians upload datasets into the data root, then register them as before (``datasets.register``).

Each organization has ``<data root>/incoming-o<id>/``, root's alone (``0700`` all the way down): its
``files/`` is where finished uploads land, its ``.uploads/`` holds parts in progress. Nothing there is
readable by any job or project uid, so sensitive rows never pass through a place a non-custodian can read;
registering names ``incoming-o<id>/files/<dir>`` as the dataset's path. Each finished upload is an audit
event with its SHA-256. The room is the data root's free space, less a margin: a full disk refuses the
upload before its bytes are sent.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass

from aicc.config import Settings
from aicc.core.errors import Forbidden, NotFound
from aicc.services import audit
from aicc.services.datazone.datasets import is_custodian
from aicc.services.principal import Principal
from aicc.store.db import Database
from aicc.store.models import OrganizationRow
from aicc.workspaces.layout import FILES, UPLOADS, Workspace

FREE_MARGIN = 1 << 30
"""Bytes of the data root's file system never promised to an upload (the database and logs may share it)."""


@dataclass(frozen=True, slots=True)
class Incoming:
    ws: Workspace
    organization_id: int
    organization: str

    def register_path(self, path: str) -> str:
        """The path to give ``aicc datasets register`` for a file or directory uploaded as ``path``."""
        return f"{self.ws.container.name}/{FILES}/{path}"


def open_incoming(db: Database, settings: Settings, actor: Principal, organization_id: int) -> Incoming:
    with db.read() as s:
        org = s.get(OrganizationRow, organization_id)
        if org is None or not actor.sees_org(organization_id):
            raise NotFound("organization not found")
        if not is_custodian(actor, organization_id):
            raise Forbidden("only a data custodian or admin of the organization may upload its datasets")
        name = org.name
    container = settings.datasets_root / f"incoming-o{int(organization_id)}"
    settings.datasets_root.mkdir(parents=True, exist_ok=True)
    for path in (container, container / FILES, container / UPLOADS):
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
        st = os.lstat(path)
        if not os.path.isdir(path) or os.path.islink(path) or st.st_uid != os.geteuid():
            raise Forbidden(f"{path.name} in the data root is not the server's own directory; refusing it")
        os.chmod(path, 0o700)
    return Incoming(Workspace(organization_id, os.geteuid(), container), organization_id, name)


def room(settings: Settings) -> int:
    return shutil.disk_usage(settings.datasets_root).free - FREE_MARGIN


def record(db: Database, actor: Principal, incoming: Incoming, data: dict[str, object],
           action: str = "dataset.upload") -> None:
    with db.write() as s:
        audit.record(s, actor, action, "organization", incoming.organization_id,
                     organization_id=incoming.organization_id, data={"organization": incoming.organization, **data})
