"""Bearer tokens: who is calling, in which role, for which municipality or partner.

Locally tokens are HS256 with a shared secret (`komerbij token` prints one); an OIDC issuer (Keycloak, also under
`make run`) signs them RS256 and publishes its keys at a JWKS URL. With both configured both are accepted, each
algorithm only with its own key. No or bad token → 401; a valid token in the wrong role → 403. Whether a
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
        """HS256 tokens with the shared secret and RS256 tokens from the issuer's JWKS, each only with its own key."""
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
            issuer, audience = self._issuer, self._audience
            if algorithm == "RS256" and self._jwks is not None:
                key: object = self._jwks.get_signing_key_from_jwt(token).key
            elif algorithm == "HS256" and self._secret:
                key = self._secret
                if self._jwks is not None:
                    # Beside an issuer (make run): the shared secret alone makes a local token ours; `komerbij
                    # token` writes no `iss`/`aud`, and the issuer's `iss`/`aud` are checked on its RS256 tokens.
                    issuer = audience = None
            else:
                raise ProblemError(401, "Ongeldig token", f"Tokens signed with {algorithm} are not accepted here.")
            claims = jwt.decode(token, key, algorithms=[algorithm], issuer=issuer,  # type: ignore[arg-type]
                                audience=audience,
                                options={"require": ["exp", "sub"], "verify_aud": audience is not None})
        except jwt.ExpiredSignatureError:
            raise ProblemError(401, "Token verlopen", "The bearer token has expired.") from None
        except jwt.PyJWTError as exc:
            raise ProblemError(401, "Ongeldig token", f"The bearer token is not valid: {exc}") from None
        return principal_from_claims(claims)

    def needs_network(self, token: str) -> bool:
        """An RS256 token may need the issuer's keys fetched (a cache miss); HS256 is checked in microseconds."""
        if self._jwks is None:
            return False
        try:
            return jwt.get_unverified_header(token).get("alg") == "RS256"
        except jwt.PyJWTError:
            return False


def role_of(claims: dict[str, object]) -> Role | None:
    """The `role` claim (Keycloak: a user-attribute mapper, see deploy/keycloak); else the token's realm roles
    that are komerbij roles (an issuer configured with roles instead), admin first."""
    role = claims.get("role")
    if role in ROLES:
        return role  # type: ignore[return-value]
    realm_access = claims.get("realm_access")
    granted = realm_access.get("roles", []) if isinstance(realm_access, dict) else []
    for candidate in ("admin", *ROLES):
        if candidate in granted:
            return candidate
    return None


def principal_from_claims(claims: dict[str, object]) -> Principal:
    """Who the verified claims describe; the same mapping for bearer tokens and for people logged in on the pages."""
    role = role_of(claims)
    if role is None:
        raise ProblemError(401, "Ongeldig token", "The token carries no known role.")
    municipality, partner = claims.get("municipality"), claims.get("partner")
    return Principal(
        subject=str(claims["sub"]), role=role, municipality=str(municipality) if municipality else None,
        partner=str(partner) if partner else None,
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
    if verifier.needs_network(token):  # may fetch the issuer's keys over the network on a cache miss
        return await asyncio.to_thread(verifier.verify, token)
    return verifier.verify(token)  # HS256: microseconds, no thread hand-off


def require(*roles: Role):
    """A dependency that admits only the given roles (admin is always admitted)."""

    async def check(principal: Principal = Depends(authenticated)) -> Principal:
        if principal.role != "admin" and principal.role not in roles:
            raise ProblemError(403, "Geen toegang", f"This action needs the role {' or '.join(roles)}.")
        return principal

    return Depends(check)
