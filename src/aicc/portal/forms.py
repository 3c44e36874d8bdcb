"""What every portal form does the same way: check its CSRF token, run one transaction, and either redirect
(success) or show the page again with the refusal in the user's language (nothing was written)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from aicc.core.errors import Conflict, DomainError, Forbidden, InvalidInput
from aicc.portal.session import check_csrf
from aicc.portal.view import View

REFUSALS = (InvalidInput, Conflict, Forbidden)


def checked(view: View, csrf: str) -> None:
    assert view.me is not None
    check_csrf(view.me.csrf, csrf)


def notice(view: View, notices: Mapping[str, str], done: str) -> str | None:
    """The confirmation a redirect asked for (``?done=key``), translated; unknown keys show nothing."""
    return view._(notices[done]) if done in notices else None


def refusal(view: View, exc: DomainError) -> str:
    return view._("Nothing changed: {detail}", detail=view.reason(exc.detail or "Invalid input"))


def attempt(view: View, change: Callable[[Session], Any], back: Callable[[int, str], Response],
            target: str) -> Response:
    """Run ``change`` in one transaction; a refusal re-renders the page (``back``), success redirects."""
    try:
        with view.db.write() as s:
            change(s)
    except REFUSALS as exc:
        status = 409 if isinstance(exc, Conflict) else 403 if isinstance(exc, Forbidden) else 422
        return back(status, refusal(view, exc))
    return RedirectResponse(target, status_code=303)
