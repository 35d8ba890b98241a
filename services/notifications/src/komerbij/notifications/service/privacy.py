"""Use cases around people's addresses: one-click unsubscribe, erasure at once or on schedule, re-adding guard."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from komerbij.notifications.adapters import deliveries, partners
from komerbij.notifications.domain.signatures import address_hash, contact_of_token
from komerbij.notifications.settings import Settings, settings_of
from komerbij.runtime.service import Runtime


def _contact_id(rt: Runtime, token: str) -> uuid.UUID | None:
    """The contact of a token signed with a current or the previous key, within UNSUBSCRIBE_TOKEN_DAYS."""
    s = settings_of(rt)
    found = contact_of_token(s.unsubscribe_keys, token, max_age=timedelta(days=s.unsubscribe_token_days),
                             now=rt.clock.now().timestamp())
    try:
        return uuid.UUID(found) if found else None
    except ValueError:
        return None


def address_hashes(settings: Settings, email: str) -> list[str]:
    """The address's hash under every key in use: an address erased before a key rotation is still recognised."""
    return [address_hash(key, email) for key in reversed(settings.unsubscribe_keys)]


async def token_is_valid(rt: Runtime, token: str) -> bool:
    return _contact_id(rt, token) is not None


async def unsubscribe(rt: Runtime, token: str, now: datetime) -> bool | None:
    """None for a forged or expired token; otherwise whether this call unsubscribed (False: already unsubscribed
    or erased)."""
    contact_id = _contact_id(rt, token)
    if contact_id is None:
        return None
    async with rt.uow() as uow:
        return await partners.unsubscribe(uow.conn, contact_id, now)


async def erase_contact(rt: Runtime, contact_id: uuid.UUID, reason: str) -> bool:
    async with rt.uow() as uow:
        contact = await partners.contact(uow.conn, contact_id)
        if contact is None:
            return False
        await partners.erase_contact(uow.conn, contact_id,
                                     address_hash(settings_of(rt).signing_secret, contact["email"]),
                                     reason)
    return True


async def purge(rt: Runtime, now: datetime) -> int:
    """Erase contacts unsubscribed longer than the retention ago, and forget event data no delivery still needs."""
    s = settings_of(rt)
    async with rt.pool.acquire() as conn:
        due = await partners.unsubscribed_before(conn, now - timedelta(days=s.contact_retention_days))
        await deliveries.forget_old_notices(conn, now - timedelta(days=s.event_data_retention_days))
        await deliveries.forget_old_deliveries(conn, now - timedelta(days=s.delivery_log_retention_days))
    erased = 0
    for contact in due:
        erased += await erase_contact(rt, contact["id"], "unsubscribed")
    return erased
