"""Reports per program (or one call): applications and awards, SU awarded vs used, outcomes, settlement.

Used SU come straight from the usage ledger (``usage_ledger`` rows of the agreements'
allocations), summed once per row and rounded only when shown, so a report equals
the ledger to the last SU. Each section is a table (columns, rows) that the API
returns as JSON, CSV or one XLSX sheet.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.core import programs as rules
from aicc.core.charging import STORAGE_KIND as STORAGE
from aicc.core.errors import NotFound
from aicc.services import programs as programs_svc
from aicc.services.principal import Principal
from aicc.store.models import (
    AgreementRow,
    ApplicationRow,
    CallRow,
    OrganizationRow,
    OutcomeRow,
    ProjectRow,
    UsageRow,
)

Cell = str | int | float | None
SECTIONS = ("by_track", "by_org_kind", "by_region", "su_by_organization", "utilization_by_month", "outcomes",
            "settlement", "storage")


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)


@dataclass
class Report:
    program: str
    call: str | None
    sections: dict[str, Table]


_DECIDED_AWARD = {rules.ApplicationState.AWARDED.value, rules.ApplicationState.PARTIALLY_AWARDED.value}
_COUNTED = _DECIDED_AWARD | {rules.ApplicationState.SUBMITTED.value, rules.ApplicationState.REJECTED.value}


def _by(apps: list[ApplicationRow], key: Callable[[ApplicationRow], str]) -> Table:
    t = Table(["group", "applications", "awarded", "rejected", "pending", "acceptance_rate"])
    groups: dict[str, list[ApplicationRow]] = defaultdict(list)
    for a in apps:
        groups[key(a)].append(a)
    for name in sorted(groups):
        g = groups[name]
        awarded = sum(a.state in _DECIDED_AWARD for a in g)
        rejected = sum(a.state == rules.ApplicationState.REJECTED.value for a in g)
        decided = awarded + rejected
        t.rows.append([name, len(g), awarded, rejected, len(g) - decided,
                       round(awarded / decided, 4) if decided else None])
    return t


def build(s: Session, actor: Principal, program_id: int, *, call_id: int | None = None) -> Report:
    actor.require_center_admin()
    program = programs_svc.get_program(s, actor, program_id).row
    calls = {c.id: c for c in s.execute(select(CallRow).where(CallRow.program_id == program.id)).scalars()}
    if call_id is not None:
        call = programs_svc.get_call(s, actor, call_id)
        if call.program_id != program.id:
            raise NotFound("call not found in this program")
        calls = {call.id: call}
    orgs = {o.id: o for o in s.execute(select(OrganizationRow)).scalars()}
    projects = {p.id: p.name for p in s.execute(select(ProjectRow)).scalars()}
    apps = [a for a in s.execute(select(ApplicationRow).where(ApplicationRow.call_id.in_(list(calls)))
                                 .order_by(ApplicationRow.id)).scalars() if a.state in _COUNTED]
    agreements = list(s.execute(select(AgreementRow).where(AgreementRow.call_id.in_(list(calls)))
                                .order_by(AgreementRow.id)).scalars())
    alloc_ids = [g.allocation_id for g in agreements if g.allocation_id is not None]
    ledger = list(s.execute(select(UsageRow).where(UsageRow.allocation_id.in_(alloc_ids))
                            .order_by(UsageRow.id)).scalars()) if alloc_ids else []
    used: dict[int, float] = defaultdict(float)
    for u in ledger:
        used[u.allocation_id] += u.su

    def org_name(org_id: int) -> str:
        return orgs[org_id].name

    sections: dict[str, Table] = {
        "by_track": _by(apps, lambda a: a.track),
        "by_org_kind": _by(apps, lambda a: orgs[a.organization_id].kind),
        "by_region": _by(apps, lambda a: orgs[a.organization_id].region or "-"),
    }

    per_org = Table(["organization", "agreements", "awarded_su", "current_su", "used_su", "utilization"])
    acc: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    for g in agreements:
        if g.state != rules.AgreementState.ACCEPTED.value:
            continue
        row = acc[g.organization_id]
        row[0] += 1
        row[1] += rules.total(g.awarded_su)
        row[2] += rules.total(g.current_su)
        row[3] += used.get(g.allocation_id or 0, 0.0)
    for org_id in sorted(acc, key=org_name):
        n, awarded, current, spent = acc[org_id]
        per_org.rows.append([org_name(org_id), int(n), round(awarded, 6), round(current, 6), round(spent, 6),
                             round(spent / current, 4) if current else None])
    sections["su_by_organization"] = per_org

    by_alloc = {g.allocation_id: g for g in agreements if g.allocation_id is not None}
    month: dict[tuple[str, str], float] = defaultdict(float)
    for u in ledger:
        month[(rules.month_of(u.started_at), org_name(by_alloc[u.allocation_id].organization_id))] += u.su
    sections["utilization_by_month"] = Table(["month", "organization", "used_su"],
                                             [[m, o, round(v, 6)] for (m, o), v in sorted(month.items())])

    outcomes = Table(["organization", "reports", "publications", "products", "patents", "hires",
                      "follow_on_funding_krw"])
    ids = [g.id for g in agreements]
    out_acc: dict[int, list[float]] = defaultdict(lambda: [0.0] * 6)
    g_org = {g.id: g.organization_id for g in agreements}
    for o in (s.execute(select(OutcomeRow).where(OutcomeRow.agreement_id.in_(ids))).scalars() if ids else []):
        r = out_acc[g_org[o.agreement_id]]
        for i, v in enumerate([1, o.publications, o.products, o.patents, o.hires, o.follow_on_funding_krw]):
            r[i] += v
    for org_id in sorted(out_acc, key=org_name):
        r = out_acc[org_id]
        outcomes.rows.append([org_name(org_id), *[int(v) for v in r[:5]], round(r[5], 2)])
    sections["outcomes"] = outcomes

    settlement = Table(["agreement_id", "call", "organization", "project", "awarded_su", "current_su", "used_su",
                        "cost_share_ratio", "organization_su", "program_su", "organization_krw", "program_krw"])
    for g in agreements:
        if g.state != rules.AgreementState.ACCEPTED.value:
            continue
        c = calls[g.call_id]
        st = rules.settle(used_su=used.get(g.allocation_id or 0, 0.0), ratio=g.cost_share_ratio,
                          su_price_krw=c.su_price_krw)
        settlement.rows.append([g.id, c.name, org_name(g.organization_id), projects.get(g.project_id, "?"),
                                round(rules.total(g.awarded_su), 6), round(rules.total(g.current_su), 6), st.used_su,
                                g.cost_share_ratio, st.organization_su, st.program_su, st.organization_krw,
                                st.program_krw])
    sections["settlement"] = settlement

    storage = Table(["agreement_id", "organization", "project", "awarded_storage_gib", "current_storage_gib",
                     "storage_su", "storage_gib_hours"])
    stored: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for u in ledger:
        if u.kind == STORAGE:
            stored[u.allocation_id][0] += u.su
            stored[u.allocation_id][1] += (u.gib or 0.0) * (u.ended_at - u.started_at).total_seconds() / 3600
    for g in agreements:
        if g.state == rules.AgreementState.ACCEPTED.value:
            su, gib_hours = stored.get(g.allocation_id or 0, [0.0, 0.0])
            storage.rows.append([g.id, org_name(g.organization_id), projects.get(g.project_id, "?"),
                                 g.awarded_storage_gib, g.current_storage_gib, round(su, 6), round(gib_hours, 3)])
    sections["storage"] = storage
    return Report(program.name, None if call_id is None else calls[call_id].name, sections)


def to_csv(table: Table) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(table.columns)
    for row in table.rows:
        w.writerow(["" if v is None else v for v in row])
    return out.getvalue()


def to_xlsx(report: Report) -> bytes:
    """One sheet per section; openpyxl is imported here only, so the API starts without it."""
    from openpyxl import Workbook

    wb = Workbook()
    first = True
    for name, table in report.sections.items():
        ws = wb.active if first else wb.create_sheet()
        assert ws is not None
        ws.title = name[:31]
        first = False
        ws.append(table.columns)
        for row in table.rows:
            ws.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def as_json(report: Report) -> dict[str, Any]:
    return {"program": report.program, "call": report.call,
            "sections": {k: {"columns": t.columns, "rows": t.rows} for k, t in report.sections.items()}}
