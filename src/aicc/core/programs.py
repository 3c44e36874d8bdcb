"""Support programs: the rules, without I/O.

A program (e.g. "2027 AI 컴퓨팅 자원 지원사업") holds a budget in service units per
flavor; its calls (rounds) take applications (과제), which reviewers score against a
rubric; the manager's award becomes an agreement (협약) whose acceptance creates the
Allocation the scheduler enforces. Everything here is arithmetic and state machines
that the services and the tests call alike, so a rule is written once.
"""

from __future__ import annotations

import enum
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from aicc.core.errors import Conflict, InvalidInput

EPS = 1e-9
"""SU are floats; comparisons against caps and budgets tolerate rounding of this size."""


class Track(enum.StrEnum):
    INDUSTRY = "industry"
    ACADEMIA = "academia"
    PUBLIC = "public"
    MEDICAL = "medical"


class ApplicationState(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"  # frozen; reviewers score it
    WITHDRAWN = "withdrawn"  # by the applicant before the close date; may be resubmitted
    AWARDED = "awarded"
    PARTIALLY_AWARDED = "partially_awarded"
    REJECTED = "rejected"


class Decision(enum.StrEnum):
    AWARD = "award"
    PARTIAL = "partial"
    REJECT = "reject"


class AgreementState(enum.StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"  # the allocation exists from here on
    DECLINED = "declined"


class AmendmentKind(enum.StrEnum):
    ORIGINAL = "original"
    EXTENSION = "extension"
    TOP_UP = "top_up"
    REDUCTION = "reduction"
    RECLAIM = "reclaim"


class ReviewState(enum.StrEnum):
    ASSIGNED = "assigned"
    SUBMITTED = "submitted"
    CONFLICT = "conflict"  # the reviewer declared a conflict of interest; the assignment does not count


class ReclaimState(enum.StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"


class UtilizationStatus(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    RECLAIM_PROPOSED = "reclaim_proposed"


# -- state machines -------------------------------------------------------------------------------

_APPLICATION_MOVES: dict[str, dict[ApplicationState, frozenset[ApplicationState]]] = {
    "edit": {ApplicationState.DRAFT: frozenset({ApplicationState.DRAFT}),
             ApplicationState.WITHDRAWN: frozenset({ApplicationState.DRAFT})},
    "submit": {ApplicationState.DRAFT: frozenset({ApplicationState.SUBMITTED}),
               ApplicationState.WITHDRAWN: frozenset({ApplicationState.SUBMITTED})},
    "withdraw": {ApplicationState.SUBMITTED: frozenset({ApplicationState.WITHDRAWN})},
    "decide": {ApplicationState.SUBMITTED: frozenset({ApplicationState.AWARDED, ApplicationState.PARTIALLY_AWARDED,
                                                      ApplicationState.REJECTED})},
}


def application_transition(state: ApplicationState, action: str, target: ApplicationState) -> ApplicationState:
    """The one place that says which application moves are allowed; a refused move is a 409."""
    allowed = _APPLICATION_MOVES.get(action, {}).get(state, frozenset())
    if target not in allowed:
        raise Conflict(f"cannot {action} an application that is {state.value}")
    return target


def decision_state(decision: Decision) -> ApplicationState:
    return {Decision.AWARD: ApplicationState.AWARDED, Decision.PARTIAL: ApplicationState.PARTIALLY_AWARDED,
            Decision.REJECT: ApplicationState.REJECTED}[decision]


def agreement_transition(state: AgreementState, target: AgreementState) -> AgreementState:
    """An offered agreement is accepted or declined exactly once; accepting twice is a 409, not a second allocation."""
    if state is not AgreementState.OFFERED or target is AgreementState.OFFERED:
        raise Conflict(f"the agreement is already {state.value}")
    return target


# -- calls: rubric, eligibility, requests -----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Criterion:
    name: str
    weight: float
    max_score: float


def validate_rubric(rubric: Sequence[Criterion]) -> None:
    if not rubric:
        raise InvalidInput("a rubric needs at least one criterion")
    names = [c.name for c in rubric]
    if len(set(names)) != len(names):
        raise InvalidInput("rubric criteria must have distinct names")
    for c in rubric:
        if not c.name.strip():
            raise InvalidInput("rubric criteria need a name")
        if c.weight <= 0 or c.max_score <= 0:
            raise InvalidInput(f"criterion {c.name!r}: weight and max_score must be positive")


def validate_ratio(value: float, what: str) -> None:
    if not 0.0 <= value <= 1.0:
        raise InvalidInput(f"{what} must be between 0 and 1")


def validate_su(amounts: Mapping[str, float], what: str, *, allow_zero_total: bool = False) -> None:
    for flavor, su in amounts.items():
        if not math.isfinite(su) or su < 0:
            raise InvalidInput(f"{what} for {flavor}: SU must be a non-negative number")
    if not allow_zero_total and total(amounts) <= 0:
        raise InvalidInput(f"{what}: ask for some SU on at least one flavor")


def total(amounts: Mapping[str, float]) -> float:
    return float(sum(amounts.values()))


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Who may apply to a call; an empty tuple means "any"."""

    org_kinds: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()


def eligibility_problem(rules: Eligibility, *, org_kind: str, region: str | None) -> str | None:
    """The reason an organization may not apply, in words an applicant can act on; None when it may."""
    if rules.org_kinds and org_kind not in rules.org_kinds:
        return f"this call is open to {', '.join(rules.org_kinds)} organizations; yours is a {org_kind}"
    if rules.regions and region not in rules.regions:
        where = region or "no region on record"
        return f"this call is open to organizations in {', '.join(rules.regions)}; yours is in {where}"
    return None


def check_window(*, opens_at: datetime, closes_at: datetime, now: datetime, action: str) -> None:
    if now < opens_at:
        raise Conflict(f"the call opens at {opens_at.isoformat()}; cannot {action} before")
    if now >= closes_at:
        raise Conflict(f"the call closed at {closes_at.isoformat()}; cannot {action} after the close date")


def check_request(requested: Mapping[str, float], *, cap_su: float | None, flavors: Iterable[str]) -> None:
    """A request names only flavors the program funds and stays under the per-award cap."""
    known = set(flavors)
    unknown = sorted(set(requested) - known)
    if unknown:
        raise InvalidInput(f"the program funds {', '.join(sorted(known))}; not {', '.join(unknown)}")
    validate_su(requested, "requested")
    if cap_su is not None and total(requested) > cap_su + EPS:
        raise InvalidInput(f"requested {total(requested):g} SU is over the call's per-award cap of {cap_su:g} SU")


# -- scoring and ranking ------------------------------------------------------------------------------

def weighted_score(rubric: Sequence[Criterion], scores: Mapping[str, float]) -> float:
    """One reviewer's score on 0–100: each criterion's fraction of its maximum, weighted.

    Normalizing per criterion lets a rubric mix a 0–5 and a 0–30 criterion without the
    larger scale silently dominating; the weights alone decide importance.
    """
    names = {c.name for c in rubric}
    missing = sorted(names - set(scores))
    extra = sorted(set(scores) - names)
    if missing or extra:
        raise InvalidInput("scores must name exactly the rubric's criteria"
                           + (f"; missing {', '.join(missing)}" if missing else "")
                           + (f"; unknown {', '.join(extra)}" if extra else ""))
    weights = 0.0
    value = 0.0
    for c in rubric:
        score = scores[c.name]
        if not math.isfinite(score) or not 0 <= score <= c.max_score:
            raise InvalidInput(f"score for {c.name!r} must be between 0 and {c.max_score:g}; got {score:g}")
        value += c.weight * score / c.max_score
        weights += c.weight
    return round(100.0 * value / weights, 6)


@dataclass(frozen=True, slots=True)
class Aggregate:
    mean: float | None
    spread: float | None
    """Highest minus lowest: a large spread tells the manager the reviewers disagree."""
    stdev: float | None
    reviews: int


def aggregate(scores: Sequence[float]) -> Aggregate:
    if not scores:
        return Aggregate(None, None, None, 0)
    return Aggregate(round(statistics.fmean(scores), 6), round(max(scores) - min(scores), 6),
                     round(statistics.pstdev(scores), 6), len(scores))


@dataclass(frozen=True, slots=True)
class Candidate:
    application_id: int
    mean: float | None
    reviews: int
    requested: Mapping[str, float]
    submitted_at: datetime


def rank(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Best mean first; unscored applications last; ties go to the earlier submission (first come)."""
    return sorted(candidates, key=lambda c: (c.mean is None, -(c.mean or 0.0), c.submitted_at, c.application_id))


def fits(requested: Mapping[str, float], remaining: Mapping[str, float]) -> bool:
    return all(su <= remaining.get(f, 0.0) + EPS for f, su in requested.items())


def subtract(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
    return {f: a.get(f, 0.0) - b.get(f, 0.0) for f in sorted(set(a) | set(b))}


def add(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
    return {f: a.get(f, 0.0) + b.get(f, 0.0) for f in sorted(set(a) | set(b))}


def auto_awards(ranked: Sequence[Candidate], *, threshold: float, remaining: Mapping[str, float],
                min_reviews: int) -> list[int]:
    """Applications to award in full, best first, while each clears the threshold and fits the budget left.

    An application that does not fit is skipped, not a stop: a smaller one further down
    may still fit, and leaving SU unspent helps nobody. Applications with fewer than
    ``min_reviews`` completed reviews are never auto-awarded.
    """
    left = dict(remaining)
    out = []
    for c in ranked:
        if c.mean is None or c.reviews < min_reviews or c.mean < threshold:
            continue
        if fits(c.requested, left):
            left = subtract(left, c.requested)
            out.append(c.application_id)
    return out


def check_partial(awarded: Mapping[str, float], requested: Mapping[str, float]) -> None:
    """A partial award gives less than was asked, never more and never a flavor that was not asked for."""
    validate_su(awarded, "awarded")
    extra = sorted(f for f in awarded if f not in requested)
    if extra:
        raise InvalidInput(f"the application did not ask for {', '.join(extra)}")
    over = [f for f, su in awarded.items() if su > requested[f] + EPS]
    if over:
        raise InvalidInput(f"a partial award cannot exceed the request ({', '.join(over)})")
    if all(abs(awarded.get(f, 0.0) - su) <= EPS for f, su in requested.items()):
        raise InvalidInput("a partial award must give less than was requested; use decision 'award'")


# -- money: discounts and cost share ---------------------------------------------------------------------

def cost_share_ratio(*, base: float, regional_discount: float, youth_discount: float, regional: bool,
                     youth: bool) -> float:
    """The share of the nominal cost the organization pays itself (자부담 비율).

    Discounts reduce the organization's share multiplicatively, so two 50 % discounts
    leave a quarter of the share, never a negative one.
    """
    ratio = base
    if regional:
        ratio *= 1.0 - regional_discount
    if youth:
        ratio *= 1.0 - youth_discount
    return round(ratio, 6)


@dataclass(frozen=True, slots=True)
class Settlement:
    used_su: float
    organization_su: float
    program_su: float
    organization_krw: float | None
    program_krw: float | None


def settle(*, used_su: float, ratio: float, su_price_krw: float | None) -> Settlement:
    org = used_su * ratio
    prog = used_su - org
    price = su_price_krw
    return Settlement(round(used_su, 6), round(org, 6), round(prog, 6),
                      None if price is None else round(org * price, 2),
                      None if price is None else round(prog * price, 2))


# -- utilization and reclaim -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Utilization:
    planned_su: float
    """What a steady spender would have used by now: budget × elapsed share of the window."""
    used_su: float
    ratio: float | None
    unused_su: float
    """Budget not yet spent; the most a reclaim may take."""
    shortfall_su: float
    """Planned minus used, when positive: SU the project will not catch up on."""


def utilization(*, budget_su: float, used_su: float, starts_at: datetime, ends_at: datetime,
                now: datetime) -> Utilization:
    span = (ends_at - starts_at).total_seconds()
    elapsed = min(max((now - starts_at).total_seconds(), 0.0), span)
    planned = budget_su * elapsed / span if span > 0 else budget_su
    ratio = None if planned <= EPS else round(used_su / planned, 6)
    unused = max(budget_su - used_su, 0.0)
    return Utilization(round(planned, 6), round(used_su, 6), ratio, round(unused, 6),
                       round(min(max(planned - used_su, 0.0), unused), 6))


def utilization_status(u: Utilization, *, threshold: float, warned_since: datetime | None, grace_days: float,
                       now: datetime) -> UtilizationStatus:
    """Under-use below ``threshold`` warns first; still under after ``grace_days`` since the warning, reclaim."""
    if u.ratio is None or u.ratio >= threshold:
        return UtilizationStatus.OK
    if warned_since is not None and (now - warned_since).total_seconds() >= grace_days * 86400:
        return UtilizationStatus.RECLAIM_PROPOSED
    return UtilizationStatus.WARNING


def check_reclaim(amount_su: float, u: Utilization) -> None:
    if not math.isfinite(amount_su) or amount_su <= 0:
        raise InvalidInput("a reclaim must take a positive number of SU")
    if amount_su > u.unused_su + EPS:
        raise InvalidInput(f"cannot reclaim {amount_su:g} SU: only {u.unused_su:g} SU of the allocation are unused")


def split_by_flavor(amount_su: float, current: Mapping[str, float]) -> dict[str, float]:
    """Spread a reduction over flavors in proportion to what each holds (the allocation's budget is one number)."""
    whole = total(current)
    if whole <= 0:
        return {f: 0.0 for f in current}
    return {f: round(amount_su * su / whole, 6) for f, su in current.items()}


def month_of(t: datetime) -> str:
    return f"{t.year:04d}-{t.month:02d}"
