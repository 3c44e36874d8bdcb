"""A small center for tests: two tenants, each with an admin, a member and a project, plus an outsider.

Built through the services (as the API would), so fixtures never bypass the rules.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from aicc.core.allocations import FlavorQuota
from aicc.core.tenancy import CenterRole, OrgKind, OrgRole
from aicc.services import allocations, inventory, organizations, projects, tokens, users
from aicc.services.principal import SYSTEM
from aicc.store.db import Database
from aicc.store.models import utcnow

INVENTORY = """
[site]
name = "test-site"

[[flavors]]
name = "h100"
vendor = "nvidia"
memory_gb = 80
su_rate = 2.0

[[flavors]]
name = "a100"
vendor = "nvidia"
memory_gb = 80
su_rate = 1.0

[[flavors]]
name = "cpu"
vendor = "cpu"
su_rate = 0.02

[[nodes]]
name = "h100-node"
flavor = "h100"
accelerators = 4
cpus = 32
memory_gb = 256
count = 2

[[nodes]]
name = "a100-node"
flavor = "a100"
accelerators = 4
cpus = 32
memory_gb = 256

[[nodes]]
name = "cpu-node"
flavor = "cpu"
accelerators = 0
cpus = 16
memory_gb = 64
"""


@dataclass
class Tenant:
    org_id: int
    org_name: str
    project_id: int
    project_name: str
    allocation_id: int
    admin_token: str
    member_token: str
    admin_id: int
    member_id: int


@dataclass
class World:
    admin_token: str
    a: Tenant
    b: Tenant
    outsider_token: str
    reviewer_token: str
    tokens_by_user: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


def _token(s: object, user_id: int) -> str:
    return tokens.issue(s, SYSTEM, user_id=user_id, name="test", ttl_days=1, default_ttl_days=1).token  # type: ignore[arg-type]


def build_world(db: Database, inventory_text: str = INVENTORY) -> World:
    now = utcnow()
    with db.write() as s:
        inventory.load(s, SYSTEM, inventory_text, "test.toml")
        admin = users.create(s, SYSTEM, username="root", display_name="Admin", email=None,
                             center_role=CenterRole.CENTER_ADMIN)
        reviewer = users.create(s, SYSTEM, username="rev", display_name="Reviewer", email=None,
                                center_role=CenterRole.REVIEWER)
        outsider = users.create(s, SYSTEM, username="nobody", display_name="No org", email=None, center_role=None)
        tenants = []
        for tag, kind in [("a", OrgKind.STARTUP), ("b", OrgKind.HOSPITAL)]:
            org = organizations.create(s, SYSTEM, name=f"org-{tag}", display_name=f"Org {tag.upper()}", kind=kind,
                                       region="광주광역시")
            oa = users.create(s, SYSTEM, username=f"{tag}-admin", display_name="", email=None, center_role=None)
            om = users.create(s, SYSTEM, username=f"{tag}-member", display_name="", email=None, center_role=None)
            organizations.add_member(s, SYSTEM, org.id, username=oa.username, role=OrgRole.ORG_ADMIN)
            organizations.add_member(s, SYSTEM, org.id, username=om.username, role=OrgRole.MEMBER)
            p = projects.create(s, SYSTEM, organization_id=org.id, name=f"proj-{tag}", title=f"Project {tag}",
                                description="")
            projects.add_member(s, SYSTEM, p.id, username=om.username)
            alloc = allocations.create(s, SYSTEM, project_id=p.id, name=f"grant {tag}", budget_su=1000,
                                       starts_at=now - dt.timedelta(days=1), ends_at=now + dt.timedelta(days=30),
                                       quotas={"h100": FlavorQuota(4, 4), "cpu": FlavorQuota(8, 8)})
            tenants.append(Tenant(org.id, org.name, p.id, p.name, alloc.row.id, _token(s, oa.id), _token(s, om.id),
                                  oa.id, om.id))
        return World(_token(s, admin.id), tenants[0], tenants[1], _token(s, outsider.id), _token(s, reviewer.id))
