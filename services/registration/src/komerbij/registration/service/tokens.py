"""Cancel tokens. A sign-up's token is derived from its id with CANCEL_LINK_SECRET (`contracts...cancel_token`), a
key only registration and notifications hold: registration hands it to the participant in the sign-up response,
notifications recomputes it for the mail, and the events in between carry the link without it. We keep only its
SHA-256 (a stolen database gives no working links): the stored hashes decide, so a cancelled or purged sign-up's
link stops working, links of sign-ups made before derived tokens (random ones) keep working, and so do links already
mailed when the key is rotated. 256 bits of HMAC output need no salt or slow KDF."""

from __future__ import annotations

import hashlib
import hmac

from komerbij.contracts.events.registration import cancel_token


def link_token(key: str, signup_id: str) -> tuple[str, bytes]:
    token = cancel_token(key, signup_id)
    return token, token_hash(token)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def matches(token: str, hashes: list[bytes]) -> bool:
    candidate = token_hash(token)
    return any(hmac.compare_digest(candidate, h) for h in hashes)
