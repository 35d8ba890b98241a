"""Who may see a page: the page counterpart of `auth.require` (a bearer token there, the session here)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends
from starlette.requests import Request

from komerbij.runtime.auth import Principal, Role
from komerbij.runtime.web.errors import LoginRequired, PageError
from komerbij.runtime.web.session import User, current_user


def _next_of(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


async def signed_in_user(request: Request) -> User:
    """The logged-in person; someone not logged in is sent to /login and comes back here afterwards."""
    user = current_user(request)
    if user is None:
        raise LoginRequired(_next_of(request) if request.method == "GET" else request.url.path)
    return user


def login_required(*roles: Role) -> Any:
    """A dependency giving the person's Principal (admin always passes): 303 to /login when nobody is logged in,
    a Dutch 403 page for someone in another role. Object-level checks stay the use case's, as for the API."""

    async def check(user: User = Depends(signed_in_user)) -> Principal:
        principal = user.principal
        if principal is None or (roles and principal.role != "admin" and principal.role not in roles):
            raise PageError(403, "Geen toegang",
                            "Deze pagina is niet voor uw rol. Log in met een ander account of ga terug naar de "
                            "startpagina.")
        return principal

    return Depends(check)
