"""`aicc review …`: a reviewer's assignments: read the application, score it, declare a conflict."""

from __future__ import annotations

from typing import Annotated

import typer

from aicc.cli.client import Client
from aicc.cli.output import emit
from aicc.cli.programs import ASSIGN_COLS, JSON, flavor_amounts

review_app = typer.Typer(help="Your review assignments: read, score, declare conflicts (reviewers).",
                         no_args_is_help=True)


@review_app.command("list")
def review_list(as_json: JSON = False) -> None:
    """Your assignments."""
    emit(Client().get("/reviews"), as_json=as_json, columns=ASSIGN_COLS)


@review_app.command("show")
def review_show(application_id: int, as_json: JSON = False) -> None:
    """An assigned application, and the rubric to score it against."""
    c = Client()
    a = c.get(f"/applications/{application_id}")
    rubric = c.get(f"/calls/{a['call_id']}")["rubric"]
    if as_json:
        emit({**a, "rubric": rubric}, as_json=True)
        return
    emit(a, as_json=False)
    emit(rubric, as_json=False, columns=("name", "weight", "max_score"), title="rubric")


@review_app.command("score")
def review_score(
    review_id: int,
    score: Annotated[list[str], typer.Option(help="CRITERION=SCORE, one per rubric criterion.")],
    comment: Annotated[str, typer.Option()] = "",
    as_json: JSON = False,
) -> None:
    """Submit your scores (once); others' scores become visible to you afterwards."""
    body = {"scores": flavor_amounts(score, "--score"), "comment": comment}
    emit(Client().post(f"/reviews/{review_id}/scores", body), as_json=as_json, columns=ASSIGN_COLS)


@review_app.command("conflict")
def review_conflict(review_id: int, reason: Annotated[str, typer.Option()], as_json: JSON = False) -> None:
    """Declare a conflict of interest; the assignment is released."""
    emit(Client().post(f"/reviews/{review_id}/conflict", {"reason": reason}), as_json=as_json, columns=ASSIGN_COLS)


@review_app.command("scores")
def review_scores(application_id: int, as_json: JSON = False) -> None:
    """The reviews of an application you may see (others' only after you scored, and without names)."""
    emit(Client().get(f"/applications/{application_id}/reviews"), as_json=as_json,
         columns=("label", "reviewer", "state", "total", "scores", "comment"))
