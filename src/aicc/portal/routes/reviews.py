"""Reviews on the portal (the reviewer's side: assignments, scores, conflicts of interest) and the center's
reclaim proposals — each through the same services as the API."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy.orm import Session

from aicc.core.errors import InvalidInput, NotFound
from aicc.portal.forms import attempt, checked, notice
from aicc.portal.routes.program_forms import (
    LIMIT,
    NOTICES,
    Csrf,
    Short,
    Text,
    every,
    form_fields,
    opt_float,
    org_names,
)
from aicc.portal.routing import Member, PortalRoute
from aicc.portal.tables import sort_page
from aicc.portal.view import View
from aicc.services import (
    agreements,
    applications,
    programs,
    reviews,
)

router = APIRouter(route_class=PortalRoute)


@router.get("/reviews")
def my_reviews(view: Member, done: str = "") -> Response:
    p = view.principal
    with view.db.read() as s:
        rows = reviews.my_reviews(s, p)
        # a declared conflict: the application left this reviewer's view, and its title with it
        visible = applications.titles(s, p, (r.application_id for r in rows))
        titles = {r.id: visible.get(r.application_id, "") for r in rows}
    table = sort_page(view.request, rows, {"id": lambda r: r.id, "state": lambda r: r.state,
                                           "title": lambda r: titles[r.id], "assigned": lambda r: r.assigned_at},
                      default="id")
    return view.render("reviews.html", rows=table, titles=titles, notice=notice(view, NOTICES, done))


@router.get("/reviews/{review_id}")
def review_page(view: Member, review_id: int, done: str = "") -> Response:
    return render_review(view, review_id, notice=notice(view, NOTICES, done))


def render_review(view: View, review_id: int, *, status: int = 200, error: str | None = None,
                  notice: str | None = None, values: dict[str, str] | None = None) -> Response:
    p = view.principal
    with view.db.read() as s:
        review = next((r for r in reviews.my_reviews(s, p) if r.id == review_id), None)
        if review is None:
            raise NotFound("review not found")
        a = applications.get(s, p, review.application_id) if review.state != "conflict" else None
        call = programs.get_call(s, p, a.call_id) if a else None
        shown = reviews.reviews_of(s, p, a.id) if a else []
    return view.render("review.html", status=status, review=review, a=a, call=call,
                       rubric=programs.rubric(call) if call else [], reviews=shown, error=error, notice=notice,
                       v=values or {})


@router.post("/reviews/{review_id}/scores")
async def submit_scores(view: Member, review_id: int) -> Response:
    form = await form_fields(view)

    def change(s: Session) -> None:
        scores: dict[str, float] = {}
        for key, raw in form.items():
            if key.startswith("score_") and raw.strip():
                try:
                    scores[key[6:]] = float(raw)
                except ValueError:
                    raise InvalidInput(f"score for {key[6:]!r}: {raw!r} is not a number") from None
        reviews.submit_scores(s, view.principal, review_id, scores=scores, comment=form.get("comment", "")[:10_000])

    return attempt(view, change, lambda st, e: render_review(view, review_id, status=st, error=e, values=form),
                    f"/reviews/{review_id}?done=scored")


@router.post("/reviews/{review_id}/conflict")
def declare_conflict(view: Member, review_id: int, csrf: Csrf = "", reason: Text = "") -> Response:
    checked(view, csrf)
    return attempt(view, lambda s: reviews.declare_conflict(s, view.principal, review_id, reason=reason),
                    lambda st, e: render_review(view, review_id, status=st, error=e), "/reviews?done=conflict")


@router.get("/reclaims")
def reclaims(view: Member, done: str = "") -> Response:
    return render_reclaims(view, notice=notice(view, NOTICES, done))


def render_reclaims(view: View, *, status: int = 200, error: str | None = None, notice: str | None = None
                    ) -> Response:
    p = view.principal
    p.require_center_admin()
    with view.db.read() as s:
        rows = agreements.list_reclaims(s, p)
        deals = {g.id: g for g in every(lambda after: agreements.list_agreements(s, p, after=after, limit=LIMIT))}
        orgs = org_names(s, view)
        titles = applications.titles(s, p, (g.application_id for g in deals.values()))
    table = sort_page(view.request, rows, {"id": lambda r: r.id, "state": lambda r: r.state,
                                           "amount": lambda r: r.amount_su, "created": lambda r: r.created_at},
                      default="id")
    return view.render("reclaims.html", status=status, rows=table, deals=deals, orgs=orgs, titles=titles,
                       error=error, notice=notice)


@router.post("/reclaims/{reclaim_id}/decision")
def decide_reclaim(view: Member, reclaim_id: int, csrf: Csrf = "", approve: Short = "",
                   amount: Short = "") -> Response:
    checked(view, csrf)

    def change(s: Session) -> None:
        if approve == "yes":
            agreements.approve_reclaim(s, view.principal, reclaim_id, amount_su=opt_float(amount, "amount"))
        else:
            agreements.reject_reclaim(s, view.principal, reclaim_id)

    return attempt(view, change, lambda st, e: render_reclaims(view, status=st, error=e), "/reclaims?done=reclaim")
