"""Standard Webhooks signatures and the signed unsubscribe token.

Standard Webhooks (standardwebhooks.com): the receiver checks `webhook-signature` = `v1,` + base64(HMAC-SHA256(key,
"{webhook-id}.{webhook-timestamp}.{body}")) where the key is the base64-decoded part of the `whsec_` secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

SECRET_PREFIX = "whsec_"


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret; raises ValueError for anything else."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("het geheim moet beginnen met whsec_")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error as exc:
        raise ValueError("het deel na whsec_ is geen geldige base64") from exc
    if len(key) < 24:
        raise ValueError("het geheim moet minstens 24 bytes (na base64-decodering) lang zijn")
    return key


def webhook_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhook_signature(secret, message_id, timestamp, body),
        "content-type": "application/json",
    }


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def unsubscribe_token(secret: str, contact_id: str) -> str:
    """`<contact id>.<mac>`: unguessable for other contacts, and valid without a database lookup of tokens."""
    payload = _b64url(contact_id.encode())
    mac = hmac.new(secret.encode(), b"unsubscribe:" + payload.encode(), hashlib.sha256).digest()[:16]
    return f"{payload}.{_b64url(mac)}"


def contact_of_token(secret: str, token: str) -> str | None:
    """The contact id a valid token names, or None for a forged or mangled token."""
    payload, _, mac = token.partition(".")
    if not payload or not mac:
        return None
    expected = hmac.new(secret.encode(), b"unsubscribe:" + payload.encode(), hashlib.sha256).digest()[:16]
    try:
        if not hmac.compare_digest(_unb64url(mac), expected):
            return None
        return _unb64url(payload).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def address_hash(secret: str, email: str) -> str:
    """A keyed hash of a normalised address: enough to recognise it again, useless to mail it."""
    normalised = email.strip().casefold()
    return hmac.new(secret.encode(), b"address:" + normalised.encode(), hashlib.sha256).hexdigest()
