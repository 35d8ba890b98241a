"""CSRF protection of every form on the pages: a token in the session, the same token in the form.

Routes made with `page_router()` check it on every POST/PUT/PATCH/DELETE before the handler runs: the form field
`csrf_token` (the `csrf_field()` macro writes it) or the `X-CSRF-Token` header (htmx) must equal the session's
token. A request without it, or with another, gets a 403 page in Dutch. The token is made the first time a page
asks for it, so a page without a form sets no cookie.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from komerbij.runtime.web.errors import PageError

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    expected = request.session.get("csrf") if "session" in request.scope else None
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(FORM_TYPES):
        value = (await request.form()).get(CSRF_FIELD)  # cached on the request: the handler reads the same form
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(str(expected), sent):
        raise PageError(
            403, "Formulier niet geaccepteerd",
            "Dit formulier is verlopen of kwam niet van deze website. Ga terug, laad de pagina opnieuw en "
            "probeer het nog eens.",
        )


class CsrfProtectedRoute(APIRoute):
    """An APIRoute whose unsafe methods pass `check_csrf` first (FastAPI's documented way to wrap a route)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            if request.method not in SAFE_METHODS:
                await check_csrf(request)
            return await handler(request)

        return checked


def page_router(**kwargs: Any) -> APIRouter:
    """The router for a service's pages: CSRF-checked, and kept out of the OpenAPI document (pages are not API)."""
    kwargs.setdefault("include_in_schema", False)
    return APIRouter(route_class=CsrfProtectedRoute, **kwargs)
