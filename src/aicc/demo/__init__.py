"""A small demo center for `make run`: inventory, two organizations, projects, members, allocations.

Loaded only into an empty database, through the same services the API uses, so
the demo is audited like everything else.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from importlib import resources

from sqlalchemy import func, select

from aicc.core.allocations import FlavorQuota
from aicc.core.tenancy import CenterRole, OrgKind, OrgRole
from aicc.services import allocations, inventory, organizations, projects, tokens, users
from aicc.services.principal import SYSTEM
from aicc.store.db import Database
from aicc.store.models import UserRow, utcnow


@dataclass(frozen=True, slots=True)
class DemoLoaded:
    admin_token: str
    member_tokens: dict[str, str]
    portal_password: str
    """One random password for every demo account, to try the portal (printed once)."""


def is_empty(db: Database) -> bool:
    with db.read() as s:
        return not s.execute(select(func.count()).select_from(UserRow)).scalar()


def bootstrap_admin(db: Database, username: str = "admin", ttl_days: int = 90) -> str:
    """Create the first center admin and return a token for them (only into an empty database)."""
    with db.write() as s:
        if s.execute(select(func.count()).select_from(UserRow)).scalar():
            raise RuntimeError("the database already has users; use an admin token to add more")
        admin = users.create(s, SYSTEM, username=username, display_name="Center administrator", email=None,
                             center_role=CenterRole.CENTER_ADMIN)
        return tokens.issue(s, SYSTEM, user_id=admin.id, name="bootstrap", ttl_days=ttl_days,
                            default_ttl_days=ttl_days).token


def load_demo(db: Database) -> DemoLoaded:
    text = resources.files("aicc.demo").joinpath("center.toml").read_text(encoding="utf-8")
    now = utcnow().replace(microsecond=0)
    with db.write() as s:
        inventory.load(s, SYSTEM, text, "demo/center.toml")
        admin = users.create(s, SYSTEM, username="admin", display_name="Center administrator", email=None,
                             center_role=CenterRole.CENTER_ADMIN)
        people = {}
        for username, name in [("alice", "김민지 (Alice Kim)"), ("bob", "이준호 (Bob Lee)"),
                               ("chul", "박철수 (Chul Park)"), ("dana", "최다은 (Dana Choi)")]:
            people[username] = users.create(s, SYSTEM, username=username, display_name=name,
                                            email=f"{username}@example.org", center_role=None)
        haneul = organizations.create(s, SYSTEM, name="haneul-ai", display_name="하늘AI (Haneul AI)",
                                      kind=OrgKind.STARTUP, region="광주광역시")
        jnu = organizations.create(s, SYSTEM, name="jeonnam-univ", display_name="전남대학교 (Jeonnam University)",
                                   kind=OrgKind.UNIVERSITY, region="광주광역시")
        for org, admin_name, member in [(haneul, "alice", "bob"), (jnu, "chul", "dana")]:
            organizations.add_member(s, SYSTEM, org.id, username=admin_name, role=OrgRole.ORG_ADMIN)
            organizations.add_member(s, SYSTEM, org.id, username=member, role=OrgRole.MEMBER)
        llm = projects.create(s, SYSTEM, organization_id=haneul.id, name="haneul-llm",
                              title="Korean legal-domain LLM fine-tuning", description="")
        vision = projects.create(s, SYSTEM, organization_id=jnu.id, name="jnu-vision",
                                 title="Chest X-ray triage models", description="")
        for p, people_in in [(llm, ("alice", "bob")), (vision, ("chul", "dana"))]:
            for u in people_in:
                projects.add_member(s, SYSTEM, p.id, username=u)
        window = (now - dt.timedelta(days=30), now + dt.timedelta(days=335))
        allocations.create(s, SYSTEM, project_id=llm.id, name="2026 AI 컴퓨팅 지원 (startup track)",
                           budget_su=20_000, starts_at=window[0], ends_at=window[1], weight=1.0,
                           quotas={"h100": FlavorQuota(8, 8), "a100": FlavorQuota(4, 4), "cpu": FlavorQuota(64, 64)})
        allocations.create(s, SYSTEM, project_id=vision.id, name="2026 AI 컴퓨팅 지원 (academia track)",
                           budget_su=10_000, starts_at=window[0], ends_at=window[1], weight=1.0,
                           quotas={"a100": FlavorQuota(8, 8), "rbln-atom": FlavorQuota(4, 0),
                                   "cpu": FlavorQuota(32, 32)})
        admin_token = tokens.issue(s, SYSTEM, user_id=admin.id, name="demo", ttl_days=90,
                                   default_ttl_days=90).token
        password = secrets.token_urlsafe(9)
        for user in (admin, *people.values()):
            user.password_hash = users.hash_password(password)
        member_tokens = {u: tokens.issue(s, SYSTEM, user_id=people[u].id, name="demo", ttl_days=90,
                                         default_ttl_days=90).token for u in ("alice", "bob")}
    return DemoLoaded(admin_token, member_tokens, password)
