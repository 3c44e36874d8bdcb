"""`aicc usage`: budgets, what was used, burn rate and projected exhaustion; the ledger as CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aicc.cli.client import Client
from aicc.cli.lookup import project_by
from aicc.cli.output import emit

COLS = ("project", "allocation_id", "budget_su", "used_su", "remaining_su", "burn_su_per_day",
        "projected_exhaustion", "starts_at", "ends_at")


def usage(
    project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    csv: Annotated[Path | None, typer.Option(help="Write the usage ledger rows to this CSV file.")] = None,
    since: Annotated[str | None, typer.Option(help="With --csv: rows after this time (ISO 8601).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    storage_only: Annotated[bool, typer.Option("--storage", help="Only workspace storage per project.")] = False,
) -> None:
    """Service units per allocation: budget, used, remaining, burn rate, projected exhaustion."""
    c = Client()
    pid = project_by(c, project)["id"] if project else None
    if csv is not None:
        text = c.request("GET", "/usage/ledger.csv", params={k: v for k, v in
                                                                 {"project_id": pid, "since": since}.items() if v})
        csv.write_text(text, encoding="utf-8")
        print(f"{max(len(text.splitlines()) - 1, 0)} ledger rows written to {csv}")
        return
    rows: list[dict[str, Any]] = c.get("/usage", project_id=pid)
    if not as_json:
        for r in rows:
            r["projected_exhaustion"] = (r["projected_exhaustion"] or "")[:10] or "never at this rate"
            r["ends_at"] = r["ends_at"][:10]
            r["starts_at"] = (r.get("starts_at") or "")[:10]
    storage: list[dict[str, Any]] = c.get("/usage/storage", project_id=pid)
    if as_json:
        emit(storage if storage_only else rows, as_json=True)
        return
    if not storage_only:
        emit(rows, as_json=as_json, columns=COLS)
    emit(storage, as_json=False, title="Workspace storage",
         columns=("project", "used_bytes", "quota_bytes", "used_pct", "charged_su", "enforcement"))
