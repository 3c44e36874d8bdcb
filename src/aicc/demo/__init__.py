"""A small demo center for `make run`: inventory, organizations, projects, members, allocations, and a
hospital holding a (synthetic) sensitive dataset granted to one project.

Loaded only into an empty database, through the same services the API uses, so
the demo is audited like everything else.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import secrets
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicc.config import Settings
from aicc.core.allocations import FlavorQuota
from aicc.core.tenancy import CenterRole, OrgKind, OrgRole
from aicc.services import allocations, inventory, organizations, projects, tokens, users
from aicc.services.datazone import datasets, grants
from aicc.services.principal import SYSTEM, Principal
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


DEMO_DATASET = "cxr-cohort"
REVIEWERS = (("yuna", "한유나 (Yuna Han)"), ("jiho", "윤지호 (Jiho Yoon)"))
"""Two reviewers (center role), so that a call asking two reviewers per application can be reviewed."""


def write_demo_cohort(directory: Path, rows: int = 600, seed: int = 7) -> None:
    """A synthetic chest X-ray cohort: no real person in it, shaped like what a hospital would hold."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    with open(directory / "patients.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["patient_id", "age_band", "sex", "region", "finding", "los_days"])
        for i in range(rows):
            w.writerow([f"GH-{100000 + i}", rng.choice(["20-39", "40-59", "60-79", "80+"]), rng.choice("FM"),
                        rng.choice(["광주", "전남"]), rng.choice(["normal", "pneumonia", "effusion", "nodule"]),
                        rng.randint(1, 21)])


def _demo_dataset(s: Session, settings: Settings, hospital_id: int, project_id: int, custodian: UserRow,
                  analyst: UserRow) -> None:
    write_demo_cohort(settings.datasets_root / DEMO_DATASET)
    erin = Principal(custodian.id, custodian.username, org_roles={hospital_id: OrgRole.DATA_CUSTODIAN})
    ds = datasets.register(
        s, erin, settings, organization_id=hospital_id, name=DEMO_DATASET, title="흉부 X선 코호트 (synthetic)",
        description="Synthetic cohort for trying the secure data zone.", classification="sensitive",
        path=DEMO_DATASET, columns=[{"name": "patient_id", "role": "identifier"},
                                    {"name": "age_band", "role": "quasi_identifier"},
                                    {"name": "sex", "role": "quasi_identifier"},
                                    {"name": "region", "role": "quasi_identifier"}],
        pseudonymize_ids=True, k_required=5, sdc={})
    datasets.publish(s, erin, settings, ds.id)
    dana = Principal(analyst.id, analyst.username, projects=frozenset({project_id}))
    g = grants.request(s, dana, dataset_name=DEMO_DATASET, project_id=project_id,
                       purpose="Train and validate a chest X-ray triage model", expires_at=utcnow() +
                       dt.timedelta(days=180))
    grants.decide(s, erin, g.id, approve=True, comment="demo: IRB approval on file")


def load_demo(db: Database, settings: Settings | None = None) -> DemoLoaded:
    text = resources.files("aicc.demo").joinpath("center.toml").read_text(encoding="utf-8")
    now = utcnow().replace(microsecond=0)
    with db.write() as s:
        inventory.load(s, SYSTEM, text, "demo/center.toml")
        admin = users.create(s, SYSTEM, username="admin", display_name="Center administrator", email=None,
                             center_role=CenterRole.CENTER_ADMIN)
        people = {}
        for username, name in [("alice", "김민지 (Alice Kim)"), ("bob", "이준호 (Bob Lee)"),
                               ("chul", "박철수 (Chul Park)"), ("dana", "최다은 (Dana Choi)"),
                               ("erin", "정은지 (Erin Jung)")]:
            people[username] = users.create(s, SYSTEM, username=username, display_name=name,
                                            email=f"{username}@example.org", center_role=None)
        for username, name in REVIEWERS:  # outside experts who score support-program applications
            people[username] = users.create(s, SYSTEM, username=username, display_name=name,
                                            email=f"{username}@example.org", center_role=CenterRole.REVIEWER)
        haneul = organizations.create(s, SYSTEM, name="haneul-ai", display_name="하늘AI (Haneul AI)",
                                      kind=OrgKind.STARTUP, region="광주광역시")
        jnu = organizations.create(s, SYSTEM, name="jeonnam-univ", display_name="전남대학교 (Jeonnam University)",
                                   kind=OrgKind.UNIVERSITY, region="광주광역시")
        hospital = organizations.create(s, SYSTEM, name="bitgoeul-hospital", display_name="빛고을병원 (Bitgoeul "
                                        "Hospital)", kind=OrgKind.HOSPITAL, region="광주광역시")
        for org, admin_name, member in [(haneul, "alice", "bob"), (jnu, "chul", "dana")]:
            organizations.add_member(s, SYSTEM, org.id, username=admin_name, role=OrgRole.ORG_ADMIN)
            organizations.add_member(s, SYSTEM, org.id, username=member, role=OrgRole.MEMBER)
        organizations.add_member(s, SYSTEM, hospital.id, username="erin", role=OrgRole.DATA_CUSTODIAN)
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
        if settings is not None:
            _demo_dataset(s, settings, hospital.id, vision.id, people["erin"], people["dana"])
        admin_token = tokens.issue(s, SYSTEM, user_id=admin.id, name="demo", ttl_days=90,
                                   default_ttl_days=90).token
        password = secrets.token_urlsafe(9)
        for user in (admin, *people.values()):
            user.password_hash = users.hash_password(password)
        with_tokens = ("alice", "bob", "dana", "erin", *(r for r, _ in REVIEWERS))
        member_tokens = {u: tokens.issue(s, SYSTEM, user_id=people[u].id, name="demo", ttl_days=90,
                                         default_ttl_days=90).token for u in with_tokens}
    return DemoLoaded(admin_token, member_tokens, password)
