"""Cancel tokens: long random secrets handed to the participant; we keep only their SHA-256 (a stolen database does
not give working links). The tokens carry 256 bits of randomness, so a plain hash is enough; no salt or slow KDF."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_token() -> tuple[str, bytes]:
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def matches(token: str, hashes: list[bytes]) -> bool:
    candidate = token_hash(token)
    return any(hmac.compare_digest(candidate, h) for h in hashes)
