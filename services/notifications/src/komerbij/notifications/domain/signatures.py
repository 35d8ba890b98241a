"""Standard Webhooks signatures and the signed unsubscribe token.

Standard Webhooks (standardwebhooks.com): the receiver checks `webhook-signature` = `v1,` + base64(HMAC-SHA256(key,
"{webhook-id}.{webhook-timestamp}.{body}")) where the key is the base64-decoded part of the `whsec_` secret.

The unsubscribe token is itsdangerous' timed signature of the contact id: it needs no table of tokens, it expires
(long enough for a mail to be read), and verification takes a list of keys, so a key can be rotated while mails
signed with the previous one are still out there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Sequence
from datetime import timedelta

from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer

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


UNSUBSCRIBE_SALT = "komerbij.notifications.unsubscribe"
# The link to a contact's preferences page: the same key, another salt, so neither token opens the other's door.
PREFERENCES_SALT = "komerbij.notifications.preferences"
Keys = str | Sequence[str]  # one key, or the keys in use with the newest last (it signs; all verify)


def _serializer(keys: Keys, now: float | None, salt: str = UNSUBSCRIBE_SALT) -> URLSafeTimedSerializer:
    at = time.time() if now is None else now

    class _Clocked(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(at)

    return URLSafeTimedSerializer(keys if isinstance(keys, str) else list(keys), salt=salt, signer=_Clocked)


def unsubscribe_token(keys: Keys, contact_id: str, *, now: float | None = None) -> str:
    """The contact id, when it was signed, and the signature: unguessable for other contacts."""
    return _serializer(keys, now).dumps(contact_id)


def contact_of_token(keys: Keys, token: str, *, max_age: timedelta | None = None,
                     now: float | None = None) -> str | None:
    """The contact id a valid, unexpired token names, or None for a forged, mangled or expired one."""
    try:
        found = _serializer(keys, now).loads(token, max_age=max_age.total_seconds() if max_age else None)
    except BadData:
        return None
    return found if isinstance(found, str) else None


def preferences_token(keys: Keys, contact_id: str, *, now: float | None = None) -> str:
    """Opens the contact's preferences page (`/voorkeuren/{token}`); signed like the unsubscribe token."""
    return _serializer(keys, now, PREFERENCES_SALT).dumps(contact_id)


def contact_of_preferences_token(keys: Keys, token: str, *, max_age: timedelta | None = None,
                                 now: float | None = None) -> str | None:
    """The contact a valid, unexpired preferences token names; None for anything else (an unsubscribe token too)."""
    try:
        found = _serializer(keys, now, PREFERENCES_SALT).loads(token,
                                                               max_age=max_age.total_seconds() if max_age else None)
    except BadData:
        return None
    return found if isinstance(found, str) else None


def address_hash(secret: str, email: str) -> str:
    """A keyed hash of a normalised address: enough to recognise it again, useless to mail it."""
    normalised = email.strip().casefold()
    return hmac.new(secret.encode(), b"address:" + normalised.encode(), hashlib.sha256).hexdigest()
