"""RFC 9457 problem details for every error the API returns.

A client (the CLI, the portal, a script) gets the same shape whatever went
wrong: ``type``, ``title``, ``status``, ``detail`` and, for invalid input, a list
of ``errors`` naming each field. Nothing internal (stack traces, SQL) leaks.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from aicc.api.schemas.common import BadCursor
from aicc.core.errors import DomainError
from aicc.services.tokens import Unauthenticated

log = logging.getLogger("aicc.api")
MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://aicc.dev/problems/"


def problem(status: int, title: str, detail: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": TYPE_BASE + title.lower().replace(" ", "-"), "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    headers = {"WWW-Authenticate": 'Bearer realm="aicc"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        out.append({"field": ".".join(loc), "message": err.get("msg", "invalid"), "type": err.get("type")})
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        first = errors[0] if errors else {"field": "", "message": "invalid request"}
        detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        return problem(422, "Invalid input", detail, errors=errors)

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        extra = {"errors": exc.errors} if exc.errors else {}
        return problem(exc.status, exc.title, exc.detail, **extra)

    @app.exception_handler(BadCursor)
    async def _cursor(_: Request, exc: BadCursor) -> JSONResponse:
        return problem(422, "Invalid input", str(exc), errors=[{"field": "query.cursor", "message": str(exc)}])

    @app.exception_handler(Unauthenticated)
    async def _unauth(_: Request, exc: Unauthenticated) -> JSONResponse:
        return problem(401, "Unauthenticated", "a valid API token is required: Authorization: Bearer aicc_…")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed", 413: "Payload too large", 415: "Unsupported media"}
        return problem(exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail))

    @app.exception_handler(StaleDataError)
    async def _stale(_: Request, exc: StaleDataError) -> JSONResponse:
        return problem(409, "Stale version", "the object was changed by someone else at the same time; retry")

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity error: %s", exc.orig)
        return problem(409, "Conflict", "the change conflicts with existing data (duplicate or still referenced)")

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem(500, "Internal error", "the server failed; the operators have the details in its log")


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
_COMMON = {"401": "Missing, invalid, expired or revoked token", "413": "Request body too large",
           "422": "Invalid input", "500": "Server error"}
_BY_METHOD = {"get": ("403", "404"), "post": ("403", "404", "409"), "patch": ("403", "404", "409"),
              "delete": ("403", "404", "409"), "put": ("403", "404", "409")}


def document(app: FastAPI) -> None:
    """Describe every error response as application/problem+json in the OpenAPI document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        spec.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        for key in ("HTTPValidationError", "ValidationError"):
            spec["components"]["schemas"].pop(key, None)
        ref = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path, item in spec.get("paths", {}).items():
            for method, op in item.items():
                responses = op.setdefault("responses", {})
                codes = dict(_COMMON)
                codes.update({c: "Not allowed" if c == "403" else "Not found" if c == "404" else "Conflict"
                              for c in _BY_METHOD.get(method, ())})
                if path in ("/healthz", "/metrics", "/readyz"):
                    codes = {"503": "Not ready"} if path == "/readyz" else {}
                for code, text in codes.items():
                    responses.setdefault(code, {"description": text})
                for code, resp in responses.items():
                    if code[0] in "45":
                        resp["content"] = ref
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
