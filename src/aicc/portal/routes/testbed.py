"""The testbed's leaderboard: which accelerator serves each workload best, per unit and per service unit.

Only valid runs are ranked (newest valid run per flavor, workload and scenario);
invalid ones are listed with their reasons so nobody wonders where a run went.
Every signed-in user may read it: a center publishes its measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.responses import Response

from aicc.core.benchmarks import samples_per_su
from aicc.portal.routing import Member, PortalRoute
from aicc.services import testbed
from aicc.store.models import BenchResultRow

router = APIRouter(route_class=PortalRoute)


@dataclass(frozen=True, slots=True)
class Entry:
    rank: int
    row: BenchResultRow
    per_unit: float | None
    per_su: float | None
    relative: float | None
    """samples/SU against the best flavor of the board (1.0 for the best)."""


@router.get("/testbed")
def leaderboard(view: Member) -> Response:
    with view.db.read() as s:
        rows = testbed.list_results(s, limit=500)
        rates = testbed.su_rates(s)
    newest: dict[tuple[str, str, str], BenchResultRow] = {}
    for r in rows:  # newest first
        if r.valid:
            newest.setdefault((r.workload, r.scenario, r.flavor), r)
    boards: dict[tuple[str, str], list[Entry]] = {}
    for (workload, scenario, _flavor), r in sorted(newest.items()):
        per_unit = r.samples_per_s / max(r.units, 1) if r.samples_per_s else None
        per_su = samples_per_su(per_unit, rates[r.flavor]) if per_unit and r.flavor in rates else None
        boards.setdefault((workload, scenario), []).append(Entry(0, r, per_unit, per_su, None))
    ranked: dict[tuple[str, str], list[Entry]] = {}
    for key, entries in boards.items():
        entries.sort(key=lambda e: -(e.per_su or 0.0))
        best = entries[0].per_su
        ranked[key] = [Entry(i + 1, e.row, e.per_unit, e.per_su, (e.per_su / best) if e.per_su and best else None)
                       for i, e in enumerate(entries)]
    invalid = [r for r in rows if not r.valid][:50]
    return view.render("testbed.html", boards=ranked, invalid=invalid)
