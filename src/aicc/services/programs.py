"""Support programs and their calls (rounds): what a center offers, to whom, and how it is judged.

Program and call details are public to every signed-in user (an applicant must read
the rules before applying); only center admins create them. The program's budget is
spent by agreements: what they hold now (``current_su``) counts, so a reclaim or a
declined agreement returns SU to the pool at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.core import programs as rules
from aicc.core.errors import Conflict, InvalidInput, NotFound
from aicc.core.names import check_slug
from aicc.core.tenancy import OrgKind
from aicc.services import audit
from aicc.services.paging import Page, page
from aicc.services.principal import Principal
from aicc.store.models import AgreementRow, CallRow, FlavorRow, ProgramRow, utcnow


@dataclass(frozen=True, slots=True)
class ProgramView:
    row: ProgramRow
    committed_su: dict[str, float]
    remaining_su: dict[str, float]


def committed(s: Session, program_id: int, *, call_id: int | None = None) -> dict[str, float]:
    """SU per flavor held by the program's live agreements (offered or accepted), after amendments."""
    q = (select(AgreementRow.current_su).join(CallRow, CallRow.id == AgreementRow.call_id)
         .where(CallRow.program_id == program_id, AgreementRow.state != rules.AgreementState.DECLINED.value))
    if call_id is not None:
        q = q.where(AgreementRow.call_id == call_id)
    out: dict[str, float] = {}
    for (su,) in s.execute(q).all():
        out = rules.add(out, su)
    return out


def remaining(s: Session, program: ProgramRow) -> dict[str, float]:
    left = rules.subtract(program.budget_su, committed(s, program.id))
    return {f: round(v, 6) for f, v in left.items()}


def lock_program(s: Session, program_id: int) -> None:
    """Serialize spending on one program: two managers awarding at once must not both spend the last SU.

    SQLite already has one writer at a time; on PostgreSQL this row lock makes the
    second decision wait and then see the first one's agreement.
    """
    s.execute(select(ProgramRow.id).where(ProgramRow.id == program_id).with_for_update())


def call_remaining(s: Session, call: CallRow) -> dict[str, float]:
    """What this round may still award: the program's remainder, capped by the call's own budget if it has one."""
    program = s.get(ProgramRow, call.program_id)
    assert program is not None
    left = remaining(s, program)
    if call.budget_su is None:
        return left
    mine = rules.subtract(call.budget_su, committed(s, program.id, call_id=call.id))
    return {f: round(min(v, mine.get(f, 0.0)), 6) for f, v in left.items()}


def _view(s: Session, p: ProgramRow) -> ProgramView:
    return ProgramView(p, {f: round(v, 6) for f, v in committed(s, p.id).items()}, remaining(s, p))


def _known_flavors(s: Session, flavors: Sequence[str]) -> None:
    known = {f.name for f in s.execute(select(FlavorRow).where(FlavorRow.retired.is_(False))).scalars()}
    unknown = sorted(set(flavors) - known)
    if unknown:
        raise InvalidInput(f"unknown flavor(s) {', '.join(unknown)}; the center has {', '.join(sorted(known))}")


def get_program(s: Session, actor: Principal, program_id: int) -> ProgramView:
    p = s.get(ProgramRow, program_id)
    if p is None:
        raise NotFound("program not found")
    return _view(s, p)


def list_programs(s: Session, actor: Principal, *, after: int | None, limit: int) -> Page[ProgramView]:
    pg = page(s, select(ProgramRow), ProgramRow.id, after, limit)
    return Page([_view(s, p) for p in pg.items], pg.next_after)


def create_program(s: Session, actor: Principal, *, name: str, title: str, description: str,
                   budget_su: Mapping[str, float]) -> ProgramView:
    actor.require_center_admin()
    check_slug(name, "program name")
    rules.validate_su(budget_su, "budget")
    _known_flavors(s, list(budget_su))
    if s.execute(select(ProgramRow.id).where(ProgramRow.name == name)).first():
        raise Conflict(f"program {name!r} already exists")
    p = ProgramRow(name=name, title=title, description=description, budget_su=dict(budget_su))
    s.add(p)
    s.flush()
    audit.record(s, actor, "program.create", "program", p.id, data={"name": name, "budget_su": dict(budget_su)})
    return _view(s, p)


def update_program_budget(s: Session, actor: Principal, program_id: int, *, version: int,
                          budget_su: Mapping[str, float]) -> ProgramView:
    """Raise or lower the budget; never below what agreements already hold."""
    actor.require_center_admin()
    p = get_program(s, actor, program_id).row
    if p.version != version:
        raise Conflict(f"program changed since version {version} (now {p.version}); reload and retry")
    rules.validate_su(budget_su, "budget")
    _known_flavors(s, list(budget_su))
    held = committed(s, p.id)
    short = [f for f, su in held.items() if su > budget_su.get(f, 0.0) + rules.EPS]
    if short:
        raise Conflict(f"agreements already hold more than the new budget on {', '.join(sorted(short))}")
    p.budget_su = dict(budget_su)
    s.flush()
    audit.record(s, actor, "program.budget", "program", p.id, data={"budget_su": dict(budget_su)})
    return _view(s, p)


def rubric(call: CallRow) -> list[rules.Criterion]:
    return [rules.Criterion(str(c["name"]), float(c["weight"]), float(c["max_score"])) for c in call.rubric]


def eligibility(call: CallRow) -> rules.Eligibility:
    return rules.Eligibility(tuple(call.eligible_kinds), tuple(call.eligible_regions))


def get_call(s: Session, actor: Principal, call_id: int) -> CallRow:
    c = s.get(CallRow, call_id)
    if c is None:
        raise NotFound("call not found")
    return c


def list_calls(s: Session, actor: Principal, *, program_id: int | None, after: int | None,
               limit: int) -> Page[CallRow]:
    q = select(CallRow)
    if program_id is not None:
        q = q.where(CallRow.program_id == program_id)
    return page(s, q, CallRow.id, after, limit)


def create_call(
    s: Session,
    actor: Principal,
    *,
    program_id: int,
    name: str,
    title: str,
    opens_at: dt.datetime,
    closes_at: dt.datetime,
    tracks: Sequence[rules.Track],
    eligible_kinds: Sequence[OrgKind],
    eligible_regions: Sequence[str],
    cap_su: float | None,
    rubric_: Sequence[rules.Criterion],
    budget_su: Mapping[str, float] | None = None,
    reviewers_per_application: int,
    auto_award_threshold: float | None = None,
    regional_discount: float = 0.0,
    discount_regions: Sequence[str] = (),
    youth_discount: float = 0.0,
    cost_share: float = 0.0,
    su_price_krw: float | None = None,
    borrowing_ratio: float = 0.0,
    underuse_threshold: float = 0.5,
    grace_days: float = 30.0,
    check_interval_days: float = 30.0,
) -> CallRow:
    actor.require_center_admin()
    program = get_program(s, actor, program_id).row
    check_slug(name, "call name")
    if closes_at <= opens_at:
        raise InvalidInput("closes_at must be after opens_at")
    if not tracks:
        raise InvalidInput("a call needs at least one track")
    rules.validate_rubric(rubric_)
    if reviewers_per_application < 1:
        raise InvalidInput("reviewers_per_application must be at least 1")
    if budget_su is not None:
        rules.validate_su(budget_su, "call budget")
        over = sorted(f for f, su in budget_su.items() if su > program.budget_su.get(f, 0.0) + rules.EPS)
        if over:
            raise InvalidInput(f"the call's budget exceeds the program's on {', '.join(over)}")
    if cap_su is not None and cap_su <= 0:
        raise InvalidInput("cap_su must be positive")
    if auto_award_threshold is not None and not 0 <= auto_award_threshold <= 100:
        raise InvalidInput("auto_award_threshold is a mean score between 0 and 100")
    for value, what in [(regional_discount, "regional_discount"), (youth_discount, "youth_discount"),
                        (cost_share, "cost_share"), (underuse_threshold, "underuse_threshold")]:
        rules.validate_ratio(value, what)
    if borrowing_ratio < 0 or grace_days < 0 or check_interval_days < 0 or (su_price_krw or 0) < 0:
        raise InvalidInput("borrowing_ratio, grace_days, check_interval_days and su_price_krw must not be negative")
    if s.execute(select(CallRow.id).where(CallRow.program_id == program.id, CallRow.name == name)).first():
        raise Conflict(f"program {program.name!r} already has a call {name!r}")
    c = CallRow(
        program_id=program.id, name=name, title=title, opens_at=opens_at, closes_at=closes_at,
        tracks=[t.value for t in tracks], eligible_kinds=[k.value for k in eligible_kinds],
        eligible_regions=list(eligible_regions), cap_su=cap_su,
        budget_su=None if budget_su is None else dict(budget_su),
        rubric=[{"name": r.name, "weight": r.weight, "max_score": r.max_score} for r in rubric_],
        reviewers_per_application=reviewers_per_application, auto_award_threshold=auto_award_threshold,
        regional_discount=regional_discount, discount_regions=list(discount_regions), youth_discount=youth_discount,
        cost_share=cost_share, su_price_krw=su_price_krw, borrowing_ratio=borrowing_ratio,
        underuse_threshold=underuse_threshold, grace_days=grace_days, check_interval_days=check_interval_days,
    )
    s.add(c)
    s.flush()
    audit.record(s, actor, "program.call.create", "program_call", c.id,
                 data={"program": program.name, "name": name, "opens_at": opens_at, "closes_at": closes_at})
    return c


def close_call(s: Session, actor: Principal, call_id: int, *, now: dt.datetime | None = None) -> CallRow:
    """Close a round now (e.g. when the manager ends it early); decisions are made only on closed calls."""
    actor.require_center_admin()
    c = get_call(s, actor, call_id)
    now = now or utcnow()
    if c.closes_at <= now:
        raise Conflict(f"the call already closed at {c.closes_at.isoformat()}")
    c.closes_at = max(now, c.opens_at)
    s.flush()
    audit.record(s, actor, "program.call.close", "program_call", c.id, data={"closes_at": c.closes_at})
    return c


def call_summary(c: CallRow) -> dict[str, Any]:
    """The rules an applicant reads before applying."""
    return {"tracks": c.tracks, "eligible_kinds": c.eligible_kinds, "eligible_regions": c.eligible_regions,
            "cap_su": c.cap_su}
