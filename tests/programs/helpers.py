"""Builders for program tests: a program with one open call, extra reviewers, ledger rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from aicc.core import programs as rules
from aicc.core.tenancy import CenterRole, OrgKind
from aicc.services import applications, programs, users
from aicc.services.principal import SYSTEM, Principal
from aicc.store.db import Database
from aicc.store.models import UsageRow, utcnow
from tests.world import World

RUBRIC = [rules.Criterion("excellence", 2.0, 10.0), rules.Criterion("feasibility", 1.0, 5.0)]


@dataclass
class Setup:
    program_id: int
    call_id: int
    reviewer_ids: list[int]


def principal(db: Database, token: str) -> Principal:
    from aicc.services import tokens

    with db.read() as s:
        return tokens.authenticate(s, token)


def make_program(db: Database, *, cap_su: float | None = 2000.0, threshold: float | None = 70.0,
                 budget: float = 5000.0, kinds: tuple[OrgKind, ...] = (), regions: tuple[str, ...] = (),
                 reviewers: int = 2, call_budget: dict[str, float] | None = None) -> Setup:
    now = utcnow()
    with db.write() as s:
        p = programs.create_program(s, SYSTEM, name="ai-2027", title="2027 AI 컴퓨팅 자원 지원사업", description="",
                                    budget_su={"h100": budget, "a100": budget})
        c = programs.create_call(
            s, SYSTEM, program_id=p.row.id, name="round-1", title="1차 공모", opens_at=now - dt.timedelta(days=1),
            closes_at=now + dt.timedelta(days=10), tracks=[rules.Track.INDUSTRY, rules.Track.MEDICAL],
            eligible_kinds=list(kinds), eligible_regions=list(regions), cap_su=cap_su, rubric_=RUBRIC,
            reviewers_per_application=reviewers, auto_award_threshold=threshold, budget_su=call_budget,
            regional_discount=0.5,
            discount_regions=["광주광역시"], youth_discount=0.2, cost_share=0.3, su_price_krw=1000.0,
            borrowing_ratio=0.5, underuse_threshold=0.5, grace_days=30, check_interval_days=30)
        r2 = users.create(s, SYSTEM, username="rev2", display_name="Reviewer 2", email=None,
                          center_role=CenterRole.REVIEWER)
        r3 = users.create(s, SYSTEM, username="rev3", display_name="Reviewer 3", email=None,
                          center_role=CenterRole.REVIEWER)
        return Setup(p.row.id, c.id, [r2.id, r3.id])


def draft(db: Database, actor: Principal, call_id: int, project_id: int, su: dict[str, float],
          title: str = "Korean medical LLM") -> int:
    now = utcnow()
    with db.write() as s:
        a = applications.create(
            s, actor, call_id=call_id, project_id=project_id, track=rules.Track.MEDICAL, title=title,
            plan="fine-tune", expected_outcomes="a model", team=[{"name": "Kim", "role": "PI"}], requested_su=su,
            requested_accelerators={"h100": 4}, starts_at=now, ends_at=now + dt.timedelta(days=100))
        return a.id


def ledger(db: Database, allocation_id: int, project_id: int, rows: list[tuple[dt.datetime, float]],
           job_id: int = 9000) -> float:
    """Append usage rows as metering would; returns their Σ SU."""
    with db.write() as s:
        for i, (start, su) in enumerate(rows):
            s.add(UsageRow(job_id=job_id, attempt=1, interval=i, allocation_id=allocation_id, project_id=project_id,
                           flavor="h100", accelerators=1, cpus=1, started_at=start,
                           ended_at=start + dt.timedelta(minutes=10), su=su))
    return sum(su for _, su in rows)


def tokens_of(world: World) -> dict[str, str]:
    return {"admin": world.admin_token, "a-admin": world.a.admin_token, "b-admin": world.b.admin_token,
            "a-member": world.a.member_token, "rev": world.reviewer_token}
