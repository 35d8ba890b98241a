"""The HTTP side every service shares: problem details (RFC 9457), correlation ids, request metrics, health.

Validation errors are 422 with one entry per field (`errors[].field` is the dotted path, e.g. `venue.postcode`),
so a client can show the message beside the right input.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse as StarletteJSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from komerbij.runtime import logs
from komerbij.runtime.bodylimit import BodyTooLarge, too_large_body
from komerbij.runtime.metrics import Metrics

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"


class JSONResponse(StarletteJSONResponse):
    """A response built by hand (problem details, readiness) encoded with orjson, as fast as the routes' own.

    Routes with a return type are serialised by pydantic's Rust core already (FastAPI's fast path, which a custom
    `default_response_class` would switch off; FastAPI's `ORJSONResponse` is deprecated for that reason).
    """

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class ProblemError(Exception):
    """An error the client should see as problem JSON. `title` is Dutch (people read it); `detail` explains."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        self.type = type_
        self.headers = headers
        self.extra = extra or {}


def field_errors(errors: dict[str, str], *, title: str = "Ongeldige invoer") -> ProblemError:
    """A 422 naming each field, for rules a schema cannot express (week dates, known codes, "e-mail or phone")."""
    entries = [{"field": field, "message": message} for field, message in errors.items()]
    return ProblemError(422, title, "; ".join(f"{e['field']}: {e['message']}" for e in entries), errors=entries)


def field_error(field: str, message: str, *, title: str = "Ongeldige invoer") -> ProblemError:
    return field_errors({field: message}, title=title)


def validation_problem(errors: Sequence[Any]) -> ProblemError:
    """The 422 for pydantic errors, also for input validated after the request (e.g. a PATCH merged into state)."""
    entries = [
        {"field": _field_path(tuple(e["loc"])), "message": str(e["msg"]).removeprefix("Value error, ")}
        for e in errors
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in entries)
    return ProblemError(422, "Ongeldige invoer", detail, errors=entries)


def problem_response(request: Request, exc: ProblemError) -> JSONResponse:
    body: dict[str, Any] = {
        "type": exc.type,
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
        "instance": request.url.path,
        **exc.extra,
    }
    if exc.errors is not None:
        body["errors"] = exc.errors
    return JSONResponse(body, status_code=exc.status, media_type=PROBLEM, headers=exc.headers)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
    # pydantic puts the failing union member or validator name in the path; drop the function-like bits
    parts = [p for p in parts if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))]
    return ".".join(str(p) for p in parts) or "body"


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(request, validation_problem(exc.errors()))

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> JSONResponse:
        return JSONResponse(too_large_body(request.url.path, exc.limit), status_code=413, media_type=PROBLEM,
                            headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Niet gevonden", 405: "Methode niet toegestaan", 401: "Niet ingelogd", 403: "Geen toegang",
                  413: "Verzoek te groot", 429: "Te veel verzoeken"}
        return problem_response(
            request, ProblemError(exc.status_code, titles.get(exc.status_code, "Fout"), str(exc.detail))
        )

    @app.exception_handler(asyncpg.DataError)
    async def _unstorable(request: Request, exc: asyncpg.DataError) -> JSONResponse:
        # A value that passed validation but that PostgreSQL cannot store or compare (a NUL character in text, a
        # date before year 1 in UTC, a number out of range) is the client's to fix, not a server error.
        log.warning("value refused by the database", extra={"error_class": type(exc).__name__})
        return problem_response(request, ProblemError(
            422, "Ongeldige invoer", "A value cannot be stored: out of range, or text with a NUL character.",
            errors=[{"field": "body", "message": "een waarde valt buiten het bereik of bevat een ongeldig teken"}],
        ))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem_response(request, ProblemError(500, "Er ging iets mis", "Internal server error."))


class ObservabilityMiddleware:
    """Sets the correlation id for the request and counts it by route template (not by raw path: ids stay out)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        cid = logs.accepted_correlation_id(headers.get(b"x-correlation-id"))
        token = logs.correlation_id.set(cid)
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-correlation-id", cid.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.http_requests.labels(method, template, str(status)).inc()
            self.metrics.http_duration.labels(method, template).observe(time.perf_counter() - start)
            logs.correlation_id.reset(token)


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `title` is Dutch, `errors` names each invalid field (422).",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["field", "message"],
            "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
        }},
    },
}


def document_problems(app: FastAPI) -> None:
    """The OpenAPI says what a 422 really is: problem JSON, not FastAPI's default `{"detail": [...]}`."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.pop("ValidationError", None)
        components.pop("HTTPValidationError", None)
        components["Problem"] = PROBLEM_SCHEMA
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                response = operation.get("responses", {}).get("422")
                if response is not None:
                    response["content"] = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
