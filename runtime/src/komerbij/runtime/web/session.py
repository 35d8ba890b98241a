"""Who is logged in on the pages: a signed session cookie that every service behind the front door can read.

The cookie (`komerbij_session`, path /, HttpOnly, SameSite=Lax, Secure whenever the request came over https) is
signed with SESSION_SECRET, the same in every service, so a login at `/login` (served by registration) is known to
materials' `/bestellen` too, without one service asking another. It holds the person's verified ID-token claims
that the pages need (subject, name, role, municipality, partner), the ID token for logging out at the issuer, and
the CSRF token of the forms. It is signed, not encrypted: nothing in it is secret from the person it belongs to.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from komerbij.runtime import reference
from komerbij.runtime.auth import ROLES, Principal, role_of

SESSION_COOKIE = "komerbij_session"
# Browsers drop a cookie over 4 KB, silently. Keycloak's ID token is ~1.2 KB; a much larger one is left out (logout
# then asks the issuer to confirm, instead of the cookie and with it the login being lost).
_MAX_ID_TOKEN = 2500
ROLE_LABELS = {"organiser": "organisator", "moderator": "moderator", "comms": "communicatie",
               "fulfilment": "magazijn", "admin": "beheerder"}


class SessionByScheme:
    """Starlette's SessionMiddleware, with the Secure flag decided per request: set when the request came over https.

    Behind the front door the scheme is what the proxy says (X-Forwarded-Proto, applied by uvicorn's proxy headers
    for the proxies in TRUSTED_PROXIES), so one configuration serves http on 127.0.0.1 and https in production.
    """

    def __init__(self, app: ASGIApp, *, secret: str, max_age: int) -> None:
        common: dict[str, Any] = {"secret_key": secret, "session_cookie": SESSION_COOKIE, "max_age": max_age,
                                  "path": "/", "same_site": "lax"}
        self._plain = SessionMiddleware(app, https_only=False, **common)
        self._secure = SessionMiddleware(app, https_only=True, **common)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        middleware = self._secure if scope.get("scheme") in ("https", "wss") else self._plain
        await middleware(scope, receive, send)


@dataclass(frozen=True)
class User:
    """A person logged in on the pages (from the issuer's ID token)."""

    subject: str
    name: str
    role: str | None
    municipality: str | None = None
    partner: str | None = None

    @property
    def principal(self) -> Principal | None:
        """The same Principal an API call with this person's token would get; None without a komerbij role."""
        if self.role not in ROLES:
            return None
        return Principal(self.subject, self.role, self.municipality, self.partner)  # type: ignore[arg-type]

    @property
    def description(self) -> str:
        """"organisator, Amsterdam": what the header shows beside the name."""
        parts = [ROLE_LABELS.get(self.role or "", "geen rol")]
        if self.municipality:
            found = reference.municipality(self.municipality)
            parts.append(found.name if found else self.municipality)
        if self.partner:
            parts.append(self.partner)
        return ", ".join(parts)


def has_session(conn: HTTPConnection) -> bool:
    return "session" in conn.scope


def current_user(conn: HTTPConnection) -> User | None:
    if not has_session(conn):
        return None
    data = conn.session.get("user")
    if not isinstance(data, dict):
        return None
    return User(subject=data["sub"], name=data.get("name") or data["sub"], role=data.get("role"),
                municipality=data.get("municipality"), partner=data.get("partner"))


def log_in(conn: HTTPConnection, claims: dict[str, Any], id_token: str | None) -> User:
    """A fresh session for the person (nothing of the anonymous one is kept: no session fixation), new CSRF token."""
    conn.session.clear()
    municipality, partner = claims.get("municipality"), claims.get("partner")
    conn.session["user"] = {
        "sub": str(claims["sub"]),
        "name": str(claims.get("name") or claims.get("preferred_username") or claims["sub"]),
        "role": role_of(claims),
        "municipality": str(municipality) if municipality else None,
        "partner": str(partner) if partner else None,
    }
    if id_token and len(id_token) <= _MAX_ID_TOKEN:
        conn.session["id_token"] = id_token
    conn.session["csrf"] = secrets.token_urlsafe(32)
    user = current_user(conn)
    assert user is not None
    return user


def log_out(conn: HTTPConnection) -> str | None:
    """Forget the person; returns the ID token, the hint the issuer wants to end its own session."""
    id_token = conn.session.get("id_token")
    conn.session.clear()
    return id_token if isinstance(id_token, str) else None
