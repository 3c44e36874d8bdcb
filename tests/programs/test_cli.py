"""A support program run end to end with the real `aicc` against a real server."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any, cast

from openpyxl import load_workbook

from tests.cli.conftest import Cli


def _j(cli: Cli, *args: str, token: str | None = None) -> Any:
    return cast(Any, cli.json(*args, token=token))


def test_program_call_apply_review_award_accept_report(cli: Cli, tmp_path: Path) -> None:
    today = dt.datetime.now(dt.UTC)
    _j(cli, "programs", "create", "ai-2027", "--title", "2027 AI 컴퓨팅 자원 지원사업", "--budget", "h100=50000",
       "--budget", "a100=20000")
    call = _j(cli, "programs", "call-create", "ai-2027", "r1", "--title", "1차 공모",
              "--opens", (today - dt.timedelta(days=1)).isoformat(), "--closes",
              (today + dt.timedelta(days=20)).isoformat(), "--track", "industry", "--track", "academia",
              "--criterion", "excellence:2:10", "--criterion", "impact:1:5", "--kind", "startup",
              "--region", "광주광역시", "--cap", "10000", "--reviewers", "2", "--cost-share", "0.3")
    alice = cli.tokens["alice"]
    app = _j(cli, "apply", "create", "--call", str(call["id"]), "--project", "haneul-llm", "--track", "industry",
             "--title", "법률 LLM", "--su", "h100=8000", "--accelerators", "h100=4",
             "--start", today.date().isoformat(), "--end", (today + dt.timedelta(days=180)).date().isoformat(),
             "--member", "김민지:PI", "--storage-gib", "50", token=alice)
    assert app["state"] == "draft" and app["requested_su"] == {"h100": 8000.0} and app["requested_storage_gib"] == 50
    edited = _j(cli, "apply", "edit", str(app["id"]), "--title", "법률 LLM v2", "--su", "h100=9000", token=alice)
    assert edited["title"] == "법률 LLM v2" and edited["requested_su"] == {"h100": 9000.0}
    plan = tmp_path / "plan.pdf"
    plan.write_bytes(b"%PDF-1.4 plan")
    attached = _j(cli, "apply", "attach", str(app["id"]), str(plan), token=alice)
    assert attached["size"] == len(b"%PDF-1.4 plan")
    assert _j(cli, "apply", "submit", str(app["id"]), token=alice)["state"] == "submitted"
    reviewer_tokens = {name: cli.tokens[name] for name in ("yuna", "jiho")}  # the demo's two reviewers
    assigned = _j(cli, "programs", "assign", str(call["id"]))
    assert len(assigned) == 2
    for i, name in enumerate(("yuna", "jiho")):
        review = _j(cli, "review", "list", token=reviewer_tokens[name])[0]
        if i == 0:
            bad = cli.run("review", "score", str(review["id"]), "--score", "excellence=12", "--score", "impact=3",
                          token=reviewer_tokens[name], check=False)
            assert bad.returncode == 4 and "between 0 and 10" in bad.stderr
        _j(cli, "review", "score", str(review["id"]), "--score", f"excellence={8 + i}", "--score", "impact=4",
           token=reviewer_tokens[name])
    cli.run("programs", "close", str(call["id"]))
    ranking = _j(cli, "programs", "ranking", str(call["id"]))
    assert ranking[0]["application_id"] == app["id"] and ranking[0]["reviews"] == 2
    decided = _j(cli, "programs", "decide", str(app["id"]), "--decision", "partial", "--su", "h100=6000",
                 "--storage-gib", "20", "--reason", "예산 한도로 일부 지원")
    assert decided["state"] == "partially_awarded"
    agreement = _j(cli, "apply", "agreements", token=alice)[0]
    accepted = _j(cli, "apply", "accept", str(agreement["id"]), token=alice)
    allocs = _j(cli, "admin", "allocations", "list", "--project", "haneul-llm")
    mine = [a for a in allocs if a["id"] == accepted["allocation_id"]]
    assert mine and mine[0]["budget_su"] == 6000 and mine[0]["quotas"]["h100"]["nominal"] == 4
    assert mine[0]["storage_gib"] == 20  # the award's storage, on the allocation that sets the workspace quota
    more = _j(cli, "programs", "amend", str(agreement["id"]), "--add-storage", "5", "--reason", "데이터 증가")
    assert more["kind"] == "top_up" and more["delta_storage_gib"] == 5 and more["delta_su"] == {}
    both = cli.run("programs", "amend", str(agreement["id"]), "--add-storage", "5", "--remove-storage", "1",
                   "--reason", "x", check=False)
    assert both.returncode != 0 and "exactly one of" in both.stderr
    again = cli.run("apply", "accept", str(agreement["id"]), token=alice, check=False)
    assert again.returncode == 4 and "409" in again.stderr and "already accepted" in again.stderr
    xlsx = tmp_path / "report.xlsx"
    cli.run("programs", "report", "ai-2027", "--xlsx", str(xlsx))
    wb = load_workbook(io.BytesIO(xlsx.read_bytes()))
    assert wb["su_by_organization"]["A2"].value == "haneul-ai" and wb["su_by_organization"]["D2"].value == 6000
    table = cli.run("programs", "report", "ai-2027").stdout
    assert "settlement" in table and "haneul-ai" in table
