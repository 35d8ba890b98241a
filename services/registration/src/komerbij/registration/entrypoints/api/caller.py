"""Routes that are public but show more to a signed-in owner or moderator."""

from __future__ import annotations

from fastapi import Request

from komerbij.runtime.auth import Principal, authenticated


async def optional_principal(request: Request) -> Principal | None:
    """No token: the public. A token that is present must be valid (401 otherwise), not silently ignored."""
    if not request.headers.get("authorization"):
        return None
    return await authenticated(request)
