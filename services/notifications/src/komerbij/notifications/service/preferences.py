"""Use cases of a contact's own preferences page (`/voorkeuren/{token}`, linked from every mail to a contact).

The token names the contact (itsdangerous, the unsubscribe key with a salt of its own, expiring like the unsubscribe
link). What the contact chooses is their organisation's subscriptions: a partner hears about events through its
subscriptions, and its contacts all get what the partner hears (a subscription also feeds the partner's webhooks).
Unsubscribing is the contact's own: they get no mail any more, colleagues still do.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from komerbij.notifications.adapters import partners
from komerbij.notifications.domain.partners import NotFound, PartnerRuleError
from komerbij.notifications.domain.signatures import contact_of_preferences_token
from komerbij.notifications.service.partners import checked_subscription
from komerbij.notifications.settings import settings_of
from komerbij.runtime.service import Runtime


@dataclass(frozen=True)
class Wanted:
    """One subscription as the form sends it back: `id` None for a new one."""

    id: str | None
    event_types: list[str]
    municipalities: list[str]
    provinces: list[str]
    mode: str


@dataclass(frozen=True)
class Preferences:
    contact_id: uuid.UUID
    name: str
    email: str
    unsubscribed_at: datetime | None
    partner_id: str
    partner_name: str
    subscriptions: list[dict[str, Any]]


def contact_of(rt: Runtime, token: str) -> uuid.UUID | None:
    """The contact a token signed with a current or the previous key names, within UNSUBSCRIBE_TOKEN_DAYS."""
    s = settings_of(rt)
    found = contact_of_preferences_token(s.unsubscribe_keys, token,
                                         max_age=timedelta(days=s.unsubscribe_token_days),
                                         now=rt.clock.now().timestamp())
    try:
        return uuid.UUID(found) if found else None
    except ValueError:
        return None


async def preferences(rt: Runtime, token: str) -> Preferences | None:
    """None for a forged or expired token, or a contact that has been erased since."""
    contact_id = contact_of(rt, token)
    if contact_id is None:
        return None
    async with rt.pool.acquire() as conn:
        contact = await partners.contact(conn, contact_id)
        if contact is None:
            return None
        partner = await partners.partner(conn, contact["partner_id"])
        subscriptions = await partners.subscriptions_of(conn, contact["partner_id"])
    return Preferences(
        contact_id=contact_id, name=contact["name"], email=contact["email"],
        unsubscribed_at=contact["unsubscribed_at"], partner_id=contact["partner_id"],
        partner_name=partner["name"] if partner else contact["partner_id"],
        subscriptions=[{"id": str(s["id"]), "event_types": list(s["event_types"]),
                        "municipalities": list(s["municipalities"]), "provinces": list(s["provinces"]),
                        "mode": s["mode"]} for s in subscriptions],
    )


class Unsubscribed(Exception):
    """The contact has unsubscribed: their organisation's choices are no longer theirs to change."""


async def save(rt: Runtime, token: str, wanted: list[Wanted]) -> bool:
    """The partner's subscriptions as the contact chose them, all or none (one transaction). False for a token
    that names nobody; a PartnerRuleError names the field as `subscriptions.<i>.<field>`."""
    checked = []
    for i, w in enumerate(wanted):
        try:
            checked.append((w.id, checked_subscription(w.event_types, w.municipalities, w.provinces, w.mode)))
        except PartnerRuleError as exc:
            field = exc.field.split(".")[0]  # event_types.3 → at the group of checkboxes
            raise PartnerRuleError(f"subscriptions.{i}.{field}", str(exc)) from None
    contact_id = contact_of(rt, token)
    if contact_id is None:
        return False
    async with rt.uow() as uow:
        contact = await partners.contact(uow.conn, contact_id)
        if contact is None:
            return False
        if contact["unsubscribed_at"] is not None:
            raise Unsubscribed()
        for subscription_id, values in checked:
            if subscription_id is None:
                await partners.add_subscription(uow.conn, uuid.uuid4(), contact["partner_id"], *values)
                continue
            found = await partners.subscription(uow.conn, _uuid(subscription_id))
            if found is None or found["partner_id"] != contact["partner_id"]:
                raise NotFound(subscription_id)  # not this partner's: the form was not ours
            await partners.update_subscription(uow.conn, found["id"], *values)
    return True


async def unsubscribe_everything(rt: Runtime, token: str, now: datetime) -> bool | None:
    """The contact gets no more mail (the same as the one-click link). None for a token that names nobody."""
    contact_id = contact_of(rt, token)
    if contact_id is None:
        return None
    async with rt.uow() as uow:
        if await partners.contact(uow.conn, contact_id) is None:
            return None
        return await partners.unsubscribe(uow.conn, contact_id, now)


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(value) from None
