"""Bearer tokens: who is calling, in which role, for which municipality or partner.

Locally tokens are HS256 with a shared secret (`komerbij token` prints one); in production an OIDC issuer signs them
RS256 and publishes its keys at a JWKS URL. No or bad token → 401; a valid token in the wrong role → 403. Whether a
principal may touch a particular object (its municipality, its partner) is the service's call, with the helpers here.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Literal

import jwt
from fastapi import Depends, Request

from komerbij.runtime.http import ProblemError

Role = Literal["organiser", "moderator", "comms", "fulfilment", "admin"]
ROLES: tuple[Role, ...] = ("organiser", "moderator", "comms", "fulfilment", "admin")


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    municipality: str | None = None
    partner: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def organisation(self) -> str | None:
        """The organisation the person acts for, which owns what they create: a municipality by CBS code, else a
        national partner as `partner:<id>` (the prefix keeps a partner id from ever reading as a CBS code). A
        token naming both acts for the municipality. None: the token names neither."""
        if self.municipality:
            return self.municipality
        return f"partner:{self.partner}" if self.partner else None


class TokenVerifier:
    def __init__(
        self,
        *,
        secret: str | None,
        jwks_url: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
    ) -> None:
        if jwks_url and not (issuer and audience):
            # An issuer's keys sign tokens for all its applications: only `iss` and `aud` make one ours.
            raise ValueError("tokens checked through a JWKS URL need an issuer and an audience")
        self._secret = secret
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True) if jwks_url else None
        self._issuer = issuer
        self._audience = audience

    @property
    def uses_jwks(self) -> bool:
        return self._jwks is not None

    def verify(self, token: str) -> Principal:
        try:
            if self._jwks is not None:
                key = self._jwks.get_signing_key_from_jwt(token).key
                claims = jwt.decode(token, key, algorithms=["RS256"], issuer=self._issuer, audience=self._audience,
                                    options={"require": ["exp", "sub"]})
            else:
                claims = jwt.decode(token, self._secret, algorithms=["HS256"], issuer=self._issuer,
                                    audience=self._audience, options={"require": ["exp", "sub"]})
        except jwt.ExpiredSignatureError:
            raise ProblemError(401, "Token verlopen", "The bearer token has expired.") from None
        except jwt.PyJWTError as exc:
            raise ProblemError(401, "Ongeldig token", f"The bearer token is not valid: {exc}") from None
        role = claims.get("role")
        if role not in ROLES:
            raise ProblemError(401, "Ongeldig token", "The token carries no known role.")
        return Principal(
            subject=str(claims["sub"]), role=role, municipality=claims.get("municipality"),
            partner=claims.get("partner"),
        )


def issue_token(
    secret: str,
    *,
    role: str,
    municipality: str | None = None,
    partner: str | None = None,
    subject: str | None = None,
    ttl_seconds: int = 12 * 3600,
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    """A development token (HS256). Production tokens come from the OIDC issuer."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    now = int(time.time())
    claims: dict[str, object] = {"sub": subject or f"dev-{role}", "role": role, "iat": now, "exp": now + ttl_seconds}
    if municipality:
        claims["municipality"] = municipality
    if partner:
        claims["partner"] = partner
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ProblemError(401, "Niet ingelogd", "A bearer token is required.",
                           headers={"WWW-Authenticate": "Bearer"})
    return token


async def authenticated(request: Request) -> Principal:
    verifier: TokenVerifier = request.app.state.runtime.verifier
    token = _bearer(request)
    if verifier.uses_jwks:  # may fetch the issuer's keys over the network on a cache miss
        return await asyncio.to_thread(verifier.verify, token)
    return verifier.verify(token)  # HS256: microseconds, no thread hand-off


def require(*roles: Role):
    """A dependency that admits only the given roles (admin is always admitted)."""

    async def check(principal: Principal = Depends(authenticated)) -> Principal:
        if principal.role != "admin" and principal.role not in roles:
            raise ProblemError(403, "Geen toegang", f"This action needs the role {' or '.join(roles)}.")
        return principal

    return Depends(check)
