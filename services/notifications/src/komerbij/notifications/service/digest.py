"""Use case: at the configured Amsterdam time, one digest mail per partner listing what collected since the last."""

from __future__ import annotations

from datetime import datetime

from komerbij.notifications.adapters import deliveries, partners
from komerbij.notifications.adapters.mail import DIGEST_LABELS
from komerbij.notifications.domain.digest import digest_event_id, due_digest_day
from komerbij.notifications.domain.links import page_of
from komerbij.notifications.service.routing import MESSAGE_DOMAIN
from komerbij.notifications.settings import settings_of
from komerbij.runtime.service import Runtime


def _item(event_type: str, data: dict[str, object]) -> dict[str, object]:
    """Only what the list shows: no participant names in a digest. `page` is the path of the item's page (the mail
    puts the front door's address before it)."""
    return {
        "label": DIGEST_LABELS.get(event_type, event_type),
        "title": data.get("title") or data.get("activity_title") or "",
        "when": data.get("starts_at") or data.get("published_at"),
        "page": page_of(data),
    }


async def send_digests(rt: Runtime, now: datetime) -> int:
    """Returns how many digests were created. Idempotent per partner and day (a deterministic event id)."""
    day = due_digest_day(now, settings_of(rt).digest_at)
    if day is None:
        return 0
    async with rt.pool.acquire() as conn:
        waiting = await deliveries.partners_with_open_digest(conn)
    created = 0
    for partner_id in waiting:
        event_id = digest_event_id(partner_id, day)
        async with rt.uow() as uow:
            if await deliveries.notice(uow.conn, event_id) is not None:
                continue  # today's digest went out already; what came in since waits for tomorrow
            await deliveries.close_digest(uow.conn, partner_id, event_id)
            collected = await deliveries.digest_notices(uow.conn, event_id)
            items = [_item(n["event_type"], n["data"] or {}) for n in collected]
            await deliveries.add_notice(uow.conn, event_id=event_id, event_type="Digest", origin_topic=None,
                                        occurred_at=now, headers=[], data={"day": day.isoformat(), "items": items})
            for contact in await partners.contacts_of(uow.conn, partner_id, subscribed_only=True):
                await deliveries.add_delivery(
                    uow.conn, event_id=event_id, event_type="Digest", kind="digest", channel="email",
                    recipient=f"contact:{contact['id']}", partner_id=partner_id, contact_id=contact["id"],
                    transactional=False, due=now, message_domain=MESSAGE_DOMAIN,
                )
            created += 1
    return created
