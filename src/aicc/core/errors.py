"""Domain errors, raised by core and services, mapped to problem+json by the API.

They carry a readable ``detail`` and never a stack trace: the message is shown to
the user as is, so it must not leak another tenant's data.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class; ``status`` is the HTTP status the API maps it to."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, errors: list[dict[str, object]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class InvalidInput(DomainError):
    status = 422
    title = "Invalid input"


class NotFound(DomainError):
    """Also raised for objects that exist but belong to another tenant (no existence leak)."""

    status = 404
    title = "Not found"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class StaleVersion(Conflict):
    """An update named a version that is no longer current: someone else changed it first."""

    title = "Stale version"
