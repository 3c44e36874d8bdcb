"""Agreements (협약): the award's terms, accepted by the organization, then enforced as an Allocation.

Only acceptance creates the Allocation, and only through ``services.allocations``: the
program writes the very rows the scheduler reads, so what was awarded is what is
enforced. Every later change (extension, top-up, reduction, reclaim) is a numbered
amendment applied to both the agreement and its allocation in one transaction, and
shows in the allocation's audit history as ``allocation.amend``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.core import programs as rules
from aicc.core.allocations import FlavorQuota
from aicc.core.errors import Conflict, InvalidInput, NotFound
from aicc.core.tenancy import CenterRole
from aicc.services import allocations, audit, metering
from aicc.services import programs as programs_svc
from aicc.services.paging import Page, page
from aicc.services.principal import Principal
from aicc.store.models import (
    AgreementRow,
    AllocationRow,
    AmendmentRow,
    ApplicationRow,
    CallRow,
    FlavorRow,
    OrganizationRow,
    OutcomeRow,
    ProgramRow,
    ProjectRow,
    ReclaimRow,
    UtilizationCheckRow,
    utcnow,
)


def _on_behalf(actor: Principal) -> Principal:
    """The principal that writes the allocation: center-admin rights, named after the person who caused it.

    An organization admin accepting an agreement may not grant allocations themselves;
    the accepted agreement is the center's grant, and the audit names both.
    """
    return Principal(user_id=actor.user_id, username=f"{actor.username} (program agreement)",
                     center_role=CenterRole.CENTER_ADMIN)


def visible(actor: Principal) -> Any:
    if actor.is_center_admin:
        return True
    admin_of = [o for o in actor.org_roles if actor.is_org_admin(o)]
    return AgreementRow.organization_id.in_(admin_of) | AgreementRow.project_id.in_(list(actor.projects))


def get(s: Session, actor: Principal, agreement_id: int) -> AgreementRow:
    g = s.execute(select(AgreementRow).where(AgreementRow.id == agreement_id, visible(actor))).scalar_one_or_none()
    if g is None:
        raise NotFound("agreement not found")
    return g


def list_agreements(s: Session, actor: Principal, *, after: int | None, limit: int,
                    call_id: int | None = None) -> Page[AgreementRow]:
    q = select(AgreementRow).where(visible(actor))
    if call_id is not None:
        q = q.where(AgreementRow.call_id == call_id)
    return page(s, q, AgreementRow.id, after, limit)


def of_application(s: Session, actor: Principal, application_id: int) -> AgreementRow | None:
    """The application's agreement, if there is one the actor may see."""
    q = select(AgreementRow).where(AgreementRow.application_id == application_id, visible(actor))
    return s.execute(q).scalar_one_or_none()


def outcomes(s: Session, actor: Principal, agreement_id: int) -> list[OutcomeRow]:
    g = get(s, actor, agreement_id)
    return list(s.execute(select(OutcomeRow).where(OutcomeRow.agreement_id == g.id).order_by(OutcomeRow.id))
                .scalars())


def amendments(s: Session, actor: Principal, agreement_id: int) -> list[AmendmentRow]:
    g = get(s, actor, agreement_id)
    q = select(AmendmentRow).where(AmendmentRow.agreement_id == g.id).order_by(AmendmentRow.number)
    return list(s.execute(q).scalars())


def _call(s: Session, g: AgreementRow) -> CallRow:
    c = s.get(CallRow, g.call_id)
    assert c is not None
    return c


def offer(s: Session, actor: Principal, a: ApplicationRow, call: CallRow, awarded: Mapping[str, float], *,
          storage_gib: int = 0) -> AgreementRow:
    """Called by the decision: the terms the organization will accept or decline (SU, and workspace storage)."""
    org = s.get(OrganizationRow, a.organization_id)
    assert org is not None
    ratio = rules.cost_share_ratio(base=call.cost_share, regional_discount=call.regional_discount,
                                   youth_discount=call.youth_discount, regional=org.region in call.discount_regions,
                                   youth=a.youth)
    g = AgreementRow(application_id=a.id, call_id=call.id, project_id=a.project_id, organization_id=a.organization_id,
                     state=rules.AgreementState.OFFERED.value, awarded_su=dict(awarded), current_su=dict(awarded),
                     accelerators=dict(a.requested_accelerators), starts_at=a.starts_at, ends_at=a.ends_at,
                     cost_share_ratio=ratio, awarded_storage_gib=storage_gib, current_storage_gib=storage_gib,
                     terms=(f"{call.title}: {rules.total(awarded):g} SU"
                            f"{f' and {storage_gib} GiB of storage' if storage_gib else ''} from {a.starts_at.date()} "
                            f"to {a.ends_at.date()}; cost share {ratio:.1%}"))
    s.add(g)
    s.flush()
    audit.record(s, actor, "agreement.offer", "agreement", g.id, organization_id=g.organization_id,
                 data={"application_id": a.id, "awarded_su": dict(awarded), "awarded_storage_gib": storage_gib,
                       "cost_share_ratio": ratio})
    return g


def _quotas(s: Session, g: AgreementRow, call: CallRow) -> dict[str, FlavorQuota]:
    """The allocation's guaranteed concurrency per flavor: what the application asked for, and for a flavor
    awarded SU without a number of accelerators, as many as spend those SU evenly over the period (at
    least one) — an award the scheduler could never run on would be no award."""
    wanted = {f: int(n) for f, n in g.accelerators.items() if int(n) > 0}
    hours = max((g.ends_at - g.starts_at).total_seconds() / 3600, 1.0)
    rates = {name: rate for name, rate in s.execute(select(FlavorRow.name, FlavorRow.su_rate)).all()}
    for flavor, su in g.current_su.items():
        if flavor not in wanted and su > 0 and rates.get(flavor, 0) > 0:
            wanted[flavor] = max(1, math.ceil(su / (rates[flavor] * hours)))
    return {f: FlavorQuota(n, math.floor(n * call.borrowing_ratio)) for f, n in wanted.items()}


def _record_amendment(s: Session, actor: Principal, g: AgreementRow, kind: rules.AmendmentKind,
                      delta: Mapping[str, float], reason: str, delta_storage_gib: int = 0) -> AmendmentRow:
    number = 0 if kind is rules.AmendmentKind.ORIGINAL else g.amendment_no + 1
    g.amendment_no = number
    row = AmendmentRow(agreement_id=g.id, number=number, kind=kind.value, delta_su=dict(delta), ends_at=g.ends_at,
                       reason=reason, actor=actor.username, delta_storage_gib=delta_storage_gib)
    s.add(row)
    s.flush()
    return row


def accept(s: Session, actor: Principal, agreement_id: int) -> AgreementRow:
    """The organization accepts: the state moves once, and the allocation is created in the same transaction."""
    g = get(s, actor, agreement_id)
    actor.require_org_admin(g.organization_id, "agreement")
    g.state = rules.agreement_transition(rules.AgreementState(g.state), rules.AgreementState.ACCEPTED).value
    call = _call(s, g)
    a = s.get(ApplicationRow, g.application_id)
    assert a is not None
    view = allocations.create(
        s, _on_behalf(actor), project_id=g.project_id, name=f"{call.name}: {a.title}"[:200],
        budget_su=round(rules.total(g.current_su), 6), starts_at=g.starts_at, ends_at=g.ends_at,
        quotas=_quotas(s, g, call), note=f"program agreement {g.id}", storage_gib=g.current_storage_gib)
    g.allocation_id = view.row.id
    g.accepted_at = utcnow()
    _record_amendment(s, actor, g, rules.AmendmentKind.ORIGINAL, g.current_su, "accepted", g.current_storage_gib)
    audit.record(s, actor, "agreement.accept", "agreement", g.id, organization_id=g.organization_id,
                 data={"allocation_id": view.row.id})
    return g


def decline(s: Session, actor: Principal, agreement_id: int) -> AgreementRow:
    """Declining returns the award's SU to the program's pool."""
    g = get(s, actor, agreement_id)
    actor.require_org_admin(g.organization_id, "agreement")
    g.state = rules.agreement_transition(rules.AgreementState(g.state), rules.AgreementState.DECLINED).value
    s.flush()
    audit.record(s, actor, "agreement.decline", "agreement", g.id, organization_id=g.organization_id)
    return g


def _accepted(s: Session, actor: Principal, agreement_id: int) -> AgreementRow:
    g = get(s, actor, agreement_id)
    if g.state != rules.AgreementState.ACCEPTED.value or g.allocation_id is None:
        raise Conflict(f"the agreement is {g.state}; only an accepted agreement can be amended")
    return g


def usage_of(s: Session, g: AgreementRow, now: dt.datetime) -> rules.Utilization:
    assert g.allocation_id is not None
    used = metering.used_by_allocation(s, [g.allocation_id]).get(g.allocation_id, 0.0)
    return rules.utilization(budget_su=rules.total(g.current_su), used_su=used, starts_at=g.starts_at,
                             ends_at=g.ends_at, now=now)


def _apply(s: Session, actor: Principal, g: AgreementRow, kind: rules.AmendmentKind, delta: Mapping[str, float],
           reason: str, delta_storage_gib: int = 0) -> AmendmentRow:
    """Change the agreement and its allocation together (one transaction, one amendment number)."""
    g.current_su = {f: round(v, 6) for f, v in rules.add(g.current_su, delta).items()}
    g.current_storage_gib += delta_storage_gib
    assert g.allocation_id is not None
    current = allocations.get(s, _on_behalf(actor), g.allocation_id)
    allocations.update(s, _on_behalf(actor), g.allocation_id, version=current.row.version,
                       changes={"budget_su": round(rules.total(g.current_su), 6), "ends_at": g.ends_at,
                                "storage_gib": g.current_storage_gib})
    row = _record_amendment(s, actor, g, kind, delta, reason, delta_storage_gib)
    audit.record(s, actor, f"agreement.{kind.value}", "agreement", g.id, organization_id=g.organization_id,
                 data={"number": row.number, "delta_su": dict(delta), "ends_at": g.ends_at, "reason": reason,
                       "allocation_id": g.allocation_id, "delta_storage_gib": delta_storage_gib})
    return row


def amend(s: Session, actor: Principal, agreement_id: int, *, kind: rules.AmendmentKind,
          delta_su: Mapping[str, float] | None = None, ends_at: dt.datetime | None = None, reason: str,
          now: dt.datetime | None = None, delta_storage_gib: int = 0) -> AmendmentRow:
    """Extension (a later end), top-up (more SU, from the program's pool) or reduction (less, never below use).
    Top-ups and reductions may change the award's storage too (``delta_storage_gib``, GiB added or taken: a
    reduction below what the workspace holds is for the caller to refuse or force, see
    ``services.workspaces.quota_changing``); storage is not drawn from the program's SU budget."""
    actor.require_center_admin()
    now = now or utcnow()
    g = _accepted(s, actor, agreement_id)
    if not reason.strip():
        raise InvalidInput("an amendment carries a reason")
    call = _call(s, g)
    delta = dict(delta_su or {})
    if kind is rules.AmendmentKind.EXTENSION:
        if ends_at is None or ends_at <= g.ends_at or delta or delta_storage_gib:
            raise InvalidInput("an extension names a later ends_at and no SU or storage")
        g.ends_at = ends_at
        return _apply(s, actor, g, kind, {}, reason)
    if ends_at is not None:
        raise InvalidInput("only an extension changes the end date")
    if delta_storage_gib < 0:
        raise InvalidInput("delta_storage_gib is a size (GiB): the kind says whether it is added or taken")
    if kind is rules.AmendmentKind.TOP_UP:
        rules.validate_su(delta, "top-up", allow_zero_total=delta_storage_gib > 0)
        programs_svc.lock_program(s, call.program_id)
        program = s.get(ProgramRow, call.program_id)
        assert program is not None
        unknown = sorted(set(delta) - set(program.budget_su))
        if unknown:
            raise InvalidInput(f"the program does not fund {', '.join(unknown)}")
        left = programs_svc.remaining(s, program)
        if not rules.fits(delta, left):
            raise Conflict(f"the program's remaining budget ({left}) cannot cover the top-up {delta}")
        return _apply(s, actor, g, kind, delta, reason, delta_storage_gib)
    if kind is rules.AmendmentKind.REDUCTION:
        rules.validate_su(delta, "reduction", allow_zero_total=delta_storage_gib > 0)
        if delta_storage_gib > g.current_storage_gib:
            raise InvalidInput(f"cannot reduce storage below zero (the agreement grants {g.current_storage_gib} GiB)")
        over = [f for f, su in delta.items() if su > g.current_su.get(f, 0.0) + rules.EPS]
        if over:
            raise InvalidInput(f"cannot reduce {', '.join(over)} below zero")
        if rules.total(delta) > 0:
            rules.check_reclaim(rules.total(delta), usage_of(s, g, now))
        return _apply(s, actor, g, kind, {f: -v for f, v in delta.items()}, reason, -delta_storage_gib)
    raise InvalidInput("amendments are extension, top_up or reduction; reclaims go through a reclaim proposal")


# -- utilization checks and reclaim ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CheckResult:
    agreement_id: int
    status: rules.UtilizationStatus
    utilization: rules.Utilization
    reclaim_id: int | None


def check_utilization(s: Session, actor: Principal, *, now: dt.datetime | None = None,
                      force: bool = False) -> list[CheckResult]:
    """Compare each accepted agreement's use with a steady plan; warn, and after the grace period propose a reclaim.

    Run it monthly (``aicc programs check-utilization`` from cron, or the API); an
    agreement checked less than its call's ``check_interval_days`` ago is skipped unless
    ``force``. A proposal is never applied here: the manager approves it.
    """
    actor.require_center_admin()
    now = now or utcnow()
    out = []
    q = select(AgreementRow).where(AgreementRow.state == rules.AgreementState.ACCEPTED.value).order_by(AgreementRow.id)
    for g in s.execute(q).scalars():
        if g.allocation_id is None or now >= g.ends_at:
            continue
        call = _call(s, g)
        checks = list(s.execute(select(UtilizationCheckRow).where(UtilizationCheckRow.agreement_id == g.id)
                                .order_by(UtilizationCheckRow.checked_at)).scalars())
        if checks and not force and (now - checks[-1].checked_at).total_seconds() < call.check_interval_days * 86400:
            continue
        warned_since = None
        for c in checks:  # the start of the current run of warnings
            if c.status == rules.UtilizationStatus.OK.value:
                warned_since = None
            elif warned_since is None:
                warned_since = c.checked_at
        u = usage_of(s, g, now)
        status = rules.utilization_status(u, threshold=call.underuse_threshold, warned_since=warned_since,
                                          grace_days=call.grace_days, now=now)
        open_proposal = s.execute(select(ReclaimRow.id).where(
            ReclaimRow.agreement_id == g.id, ReclaimRow.state == rules.ReclaimState.PROPOSED.value)).first()
        reclaim_id = None
        if status is rules.UtilizationStatus.RECLAIM_PROPOSED and not open_proposal and u.shortfall_su > 0:
            r = ReclaimRow(agreement_id=g.id, amount_su=u.shortfall_su, state=rules.ReclaimState.PROPOSED.value,
                           reason=(f"used {u.used_su:g} of {u.planned_su:g} SU planned by now "
                                   f"({(u.ratio or 0):.0%}); under {call.underuse_threshold:.0%} "
                                   f"for {call.grace_days:g} days"))
            s.add(r)
            s.flush()
            reclaim_id = r.id
        s.add(UtilizationCheckRow(agreement_id=g.id, checked_at=now, planned_su=u.planned_su, used_su=u.used_su,
                                  ratio=u.ratio, status=status.value))
        s.flush()
        audit.record(s, actor, f"agreement.utilization.{status.value}", "allocation", g.allocation_id,
                     organization_id=g.organization_id,
                     data={"agreement_id": g.id, "planned_su": u.planned_su, "used_su": u.used_su, "ratio": u.ratio,
                           "reclaim_id": reclaim_id})
        _notify_utilization(s, g, status, u, reclaim_id, now)
        out.append(CheckResult(g.id, status, u, reclaim_id))
    return out


def _notify_utilization(s: Session, g: AgreementRow, status: rules.UtilizationStatus, u: Any,
                        reclaim_id: int | None, now: dt.datetime) -> None:
    """Tell the organization's admins of an under-use warning (once per check) and of a reclaim proposal."""
    from aicc.core.notify import Event
    from aicc.services.notify import events as notify_events

    if status is rules.UtilizationStatus.OK:
        return
    allocation = s.get(AllocationRow, g.allocation_id) if g.allocation_id else None
    project = s.get(ProjectRow, g.project_id)
    params: dict[str, object] = {"allocation": allocation.name if allocation else str(g.allocation_id),
                                 "project": project.name if project else "",
                                 "detail": f"{u.used_su:g} / {u.planned_su:g} SU ({(u.ratio or 0):.0%})"}
    admins = notify_events.org_admins(s, g.organization_id)
    if reclaim_id is not None:
        reclaim = s.get(ReclaimRow, reclaim_id)
        notify_events.decided(s, Event.RECLAIM_PROPOSED, admins, f"reclaim{reclaim_id}",
                              {**params, "su": f"{reclaim.amount_su:g}" if reclaim else ""})
    else:
        notify_events.decided(s, Event.ALLOCATION_UNDERUSE, admins, f"agreement{g.id}:{now.date()}", params)


def list_reclaims(s: Session, actor: Principal, *, state: rules.ReclaimState | None = None) -> list[ReclaimRow]:
    q = (select(ReclaimRow).join(AgreementRow, AgreementRow.id == ReclaimRow.agreement_id).where(visible(actor))
         .order_by(ReclaimRow.id))
    if state is not None:
        q = q.where(ReclaimRow.state == state.value)
    return list(s.execute(q).scalars())


def _proposal(s: Session, actor: Principal, reclaim_id: int) -> ReclaimRow:
    actor.require_center_admin()
    r = s.get(ReclaimRow, reclaim_id)
    if r is None:
        raise NotFound("reclaim proposal not found")
    if r.state != rules.ReclaimState.PROPOSED.value:
        raise Conflict(f"the reclaim proposal is already {r.state}")
    return r


def approve_reclaim(s: Session, actor: Principal, reclaim_id: int, *, amount_su: float | None = None,
                    now: dt.datetime | None = None) -> ReclaimRow:
    """Reduce the allocation by the proposed (or a smaller/larger, but never more than unused) amount."""
    r = _proposal(s, actor, reclaim_id)
    g = _accepted(s, actor, r.agreement_id)
    amount = r.amount_su if amount_su is None else amount_su
    rules.check_reclaim(amount, usage_of(s, g, now or utcnow()))
    delta = {f: -v for f, v in rules.split_by_flavor(amount, g.current_su).items()}
    _apply(s, actor, g, rules.AmendmentKind.RECLAIM, delta, r.reason)
    r.amount_su = amount
    r.state = rules.ReclaimState.APPROVED.value
    r.decided_at = utcnow()
    s.flush()
    return r


def reject_reclaim(s: Session, actor: Principal, reclaim_id: int) -> ReclaimRow:
    r = _proposal(s, actor, reclaim_id)
    r.state = rules.ReclaimState.REJECTED.value
    r.decided_at = utcnow()
    s.flush()
    g = s.get(AgreementRow, r.agreement_id)
    audit.record(s, actor, "agreement.reclaim.reject", "agreement", r.agreement_id,
                 organization_id=g.organization_id if g else None, data={"reclaim_id": r.id})
    return r


def report_outcome(s: Session, actor: Principal, agreement_id: int, *, publications: int, products: int,
                   patents: int, hires: int, follow_on_funding_krw: float, note: str) -> OutcomeRow:
    """Projects report what the SU produced; any project member may, since they know best."""
    g = get(s, actor, agreement_id)
    if g.state != rules.AgreementState.ACCEPTED.value:
        raise Conflict("outcomes are reported on accepted agreements")
    if min(publications, products, patents, hires) < 0 or follow_on_funding_krw < 0:
        raise InvalidInput("outcome counts must not be negative")
    row = OutcomeRow(agreement_id=g.id, publications=publications, products=products, patents=patents, hires=hires,
                     follow_on_funding_krw=follow_on_funding_krw, note=note)
    s.add(row)
    s.flush()
    audit.record(s, actor, "agreement.outcome", "agreement", g.id, organization_id=g.organization_id,
                 data={"publications": publications, "products": products, "patents": patents, "hires": hires,
                       "follow_on_funding_krw": follow_on_funding_krw})
    return row
