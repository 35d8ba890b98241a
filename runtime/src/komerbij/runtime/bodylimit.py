"""Request-body limits, enforced while the body streams in: nothing reads more than the limit, not even a route's
body parsing that FastAPI runs before the route's token check.

A small default (MAX_BODY_BYTES) covers every JSON route; an upload route names its own limit with
`openapi_extra=body_limit(...)`, which also shows the limit in its OpenAPI. The limit is looked up when the body is
first read (the route is known by then): a declared Content-Length over it is answered 413 before a byte of the body
is read, a chunked (or understated) body as soon as what arrived passes it. The 413 closes the connection, so the
rest of a huge body is not received either.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODY_LIMIT_KEY = "x-max-body-bytes"


def body_limit(max_bytes: int) -> dict[str, Any]:
    """`openapi_extra` of a route that takes a larger body than the default (an upload)."""
    return {BODY_LIMIT_KEY: max_bytes}


class BodyTooLarge(StarletteHTTPException):
    """Raised from `receive`; FastAPI passes HTTP exceptions through its body parsing, to the problem handler."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.", headers={"Connection": "close"})
        self.limit = limit


def too_large_body(path: str, limit: int) -> dict[str, Any]:
    return {"type": "about:blank", "title": "Verzoek te groot", "status": 413,
            "detail": f"The request body is larger than {limit} bytes.", "instance": path, "max_bytes": limit}


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, default_limit: int) -> None:
        self.app = app
        self.default_limit = default_limit

    def limit_for(self, scope: Scope) -> int:
        """The matched route's own limit (routing has put it in the scope), else the default."""
        extra = getattr(scope.get("route"), "openapi_extra", None) or {}
        return int(extra.get(BODY_LIMIT_KEY, self.default_limit))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        limit: int | None = None
        received = 0

        async def limited() -> Message:
            nonlocal limit, received
            if limit is None:
                limit = self.limit_for(scope)
                if declared is not None and declared > limit:
                    raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length before we get here
    return None
