"""Use cases of the admin API: partners, contacts, webhooks, subscriptions, the delivery log."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from komerbij.notifications.adapters import deliveries, partners, webhooks
from komerbij.notifications.domain.partners import (
    MODES,
    Conflict,
    NotFound,
    PartnerRuleError,
    check_email,
    check_partner,
    check_subscription,
)
from komerbij.notifications.domain.signatures import secret_key, webhook_headers
from komerbij.notifications.service.privacy import address_hashes
from komerbij.notifications.settings import settings_of
from komerbij.runtime import reference
from komerbij.runtime.http import field_error
from komerbij.runtime.service import Runtime

# Paths of the admin pages under /partners/: a partner with such an id would hide behind the page.
RESERVED_IDS = frozenset({"bezorgingen", "nieuw"})
# The type of the signed payload "send a test event" posts to a webhook (not an event of any topic).
TEST_EVENT_TYPE = "nl.komerbij.notifications.test.v1"


async def create_partner(rt: Runtime, *, partner_id: str | None, name: str, kind: str, sector: str | None,
                         municipality: str | None) -> str:
    if partner_id is not None and partner_id.casefold() in RESERVED_IDS:
        raise PartnerRuleError("id", "dit id is gereserveerd; kies een ander")
    check_partner(kind, sector, municipality, municipality is None or reference.municipality(municipality) is not None)
    partner_id = partner_id or str(uuid.uuid4())
    async with rt.uow() as uow:
        if not await partners.add_partner(uow.conn, partner_id, name, kind, sector, municipality):
            raise Conflict("id", "er bestaat al een partner met dit id")
    return partner_id


async def list_partners(rt: Runtime, kind: str | None) -> list[dict[str, Any]]:
    async with rt.pool.acquire() as conn:
        return [_partner(r) for r in await partners.partners(conn, kind)]


async def get_partner(rt: Runtime, partner_id: str) -> dict[str, Any]:
    async with rt.pool.acquire() as conn:
        row = await partners.partner(conn, partner_id)
        if row is None:
            raise NotFound(partner_id)
        contacts = await partners.contacts_of(conn, partner_id, subscribed_only=False)
        hooks = await partners.webhooks_of(conn, partner_id)
        subscriptions = await partners.subscriptions_of(conn, partner_id)
    return {
        **_partner(row),
        "contacts": [{"id": str(c["id"]), "name": c["name"], "email": c["email"],
                      "unsubscribed_at": c["unsubscribed_at"]} for c in contacts],
        "webhooks": [{"id": str(h["id"]), "url": h["url"], "failing_since": h["failing_since"],
                      "disabled_at": h["disabled_at"]} for h in hooks],
        "subscriptions": [{"id": str(s["id"]), "event_types": s["event_types"],
                           "municipalities": s["municipalities"], "provinces": s["provinces"], "mode": s["mode"]}
                          for s in subscriptions],
    }


async def update_partner(rt: Runtime, partner_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    async with rt.uow() as uow:
        row = await partners.partner(uow.conn, partner_id)
        if row is None:
            raise NotFound(partner_id)
        merged = {k: row[k] for k in ("name", "kind", "sector", "municipality")} | changes
        code = merged["municipality"]
        check_partner(merged["kind"], merged["sector"], code, code is None or reference.municipality(code) is not None)
        await partners.update_partner(uow.conn, partner_id, merged["name"], merged["kind"], merged["sector"], code)
    return await get_partner(rt, partner_id)


async def add_contact(rt: Runtime, partner_id: str, *, name: str, email: str, confirmed_consent: bool) -> str:
    """An address erased before is refused unless the caller confirms the person asked to be added again."""
    check_email(email)
    hashes = address_hashes(settings_of(rt), email)
    contact_id = uuid.uuid4()
    async with rt.uow() as uow:
        if await partners.partner(uow.conn, partner_id) is None:
            raise NotFound(partner_id)
        suppressed = [h for h in hashes if await partners.is_suppressed(uow.conn, h)]
        if suppressed:
            if not confirmed_consent:
                raise Conflict("email", "dit adres is eerder afgemeld en gewist; voeg het alleen opnieuw toe met "
                                        "toestemming (confirmed_consent: true)")
            for hashed in suppressed:
                await partners.lift_suppression(uow.conn, hashed)
        await partners.add_contact(uow.conn, contact_id, partner_id, name, email.strip())
    return str(contact_id)


async def add_webhook(rt: Runtime, partner_id: str, *, url: str, secret: str) -> str:
    # https to a public address; plain http only to what OUTBOUND_ALLOWED_NETWORKS opens (development and tests)
    problem = rt.outbound.registration_problem(url, https_only=True)
    if problem:
        raise field_error("url", problem)
    secret_key(secret)  # raises ValueError naming what is wrong
    webhook_id = uuid.uuid4()
    async with rt.uow() as uow:
        if await partners.partner(uow.conn, partner_id) is None:
            raise NotFound(partner_id)
        await partners.add_webhook(uow.conn, webhook_id, partner_id, url, secret)
    return str(webhook_id)


def checked_subscription(event_types: list[str], municipalities: list[str], provinces: list[str],
                         mode: str) -> tuple[list[str], list[str], list[str], str]:
    """What a subscription is stored as (provinces spelt as the reference spells them, no doubles, sorted), or a
    PartnerRuleError naming the field."""
    canonical = {reference.fold(p): p for p in reference.provinces()}
    provinces = [canonical.get(reference.fold(p), p) for p in provinces]
    check_subscription(event_types, municipalities, provinces, set(reference.municipalities()),
                       set(reference.provinces()))
    if mode not in MODES:
        raise PartnerRuleError("mode", "kies direct of een dagelijks overzicht")
    return sorted(set(event_types)), sorted(set(municipalities)), sorted(set(provinces)), mode


async def add_subscription(rt: Runtime, partner_id: str, *, event_types: list[str], municipalities: list[str],
                           provinces: list[str], mode: str) -> str:
    checked = checked_subscription(event_types, municipalities, provinces, mode)
    subscription_id = uuid.uuid4()
    async with rt.uow() as uow:
        if await partners.partner(uow.conn, partner_id) is None:
            raise NotFound(partner_id)
        await partners.add_subscription(uow.conn, subscription_id, partner_id, *checked)
    return str(subscription_id)


async def update_subscription(rt: Runtime, partner_id: str, subscription_id: uuid.UUID, *, event_types: list[str],
                              municipalities: list[str], provinces: list[str], mode: str) -> None:
    """The partner's subscription as given (what it hears from now on; events already routed are not redone)."""
    checked = checked_subscription(event_types, municipalities, provinces, mode)
    async with rt.uow() as uow:
        found = await partners.subscription(uow.conn, subscription_id)
        if found is None or found["partner_id"] != partner_id:
            raise NotFound(str(subscription_id))
        await partners.update_subscription(uow.conn, subscription_id, *checked)


async def delete_subscription(rt: Runtime, partner_id: str, subscription_id: uuid.UUID) -> None:
    async with rt.uow() as uow:
        found = await partners.subscription(uow.conn, subscription_id)
        if found is None or found["partner_id"] != partner_id:
            raise NotFound(str(subscription_id))
        await partners.delete_subscription(uow.conn, subscription_id)


async def _webhook_of(conn: Any, partner_id: str, webhook_id: uuid.UUID) -> Any:
    hook = await partners.webhook(conn, webhook_id)
    if hook is None or hook["partner_id"] != partner_id:
        raise NotFound(str(webhook_id))
    return hook


async def enable_webhook(rt: Runtime, partner_id: str, webhook_id: uuid.UUID) -> None:
    """A disabled webhook in use again (after the partner fixed the receiver): new events reach it; what failed
    while it was off can be sent again from the delivery log."""
    async with rt.uow() as uow:
        await _webhook_of(uow.conn, partner_id, webhook_id)
        await partners.enable_webhook(uow.conn, webhook_id)


async def send_test_event(rt: Runtime, partner_id: str, webhook_id: uuid.UUID) -> webhooks.PostResult:
    """A signed test payload to the webhook, now, through the same guarded client and time limit as every delivery
    (so an address that is not public is refused here too); the outcome, not recorded as a delivery. A disabled
    webhook may be tested: that is how to see that its receiver works again before enabling it."""
    async with rt.pool.acquire() as conn:
        hook = await _webhook_of(conn, partner_id, webhook_id)
    now = rt.clock.now()
    body = json.dumps(
        {"id": f"test_{uuid.uuid4().hex}", "type": TEST_EVENT_TYPE, "event": "Test", "time": now.isoformat(),
         "data": {"partner_id": partner_id, "message": "Testbericht van de Week tegen Eenzaamheid"}},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    ).encode()
    headers = webhook_headers(hook["secret"], f"msg_{uuid.uuid4().hex}", int(now.timestamp()), body)
    async with webhooks.client(rt.outbound) as client:
        return await webhooks.post(client, hook["url"], body, headers, settings_of(rt).webhook_timeout_seconds)


async def delivery_log(rt: Runtime, *, partner: str | None, status: str | None, channel: str | None,
                       limit: int, since: datetime | None = None,
                       until: datetime | None = None) -> list[dict[str, Any]]:
    async with rt.pool.acquire() as conn:
        rows = await deliveries.list_deliveries(conn, partner=partner, status=status, channel=channel, limit=limit,
                                                since=since, until=until)
        attempts = await deliveries.attempts_of(conn, [r["id"] for r in rows])
    by_delivery: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for a in attempts:
        by_delivery.setdefault(a["delivery_id"], []).append(
            {"attempt": a["attempt"], "started_at": a["started_at"], "finished_at": a["finished_at"],
             "outcome": a["outcome"], "http_status": a["http_status"], "error": a["error"]}
        )
    return [
        {"id": str(r["id"]), "event_id": r["event_id"], "event_type": r["event_type"], "channel": r["channel"],
         "status": r["status"], "attempts": r["attempts"], "partner_id": r["partner_id"],
         "recipient": r["recipient"], "message_id": r["message_id"], "transactional": r["transactional"],
         "next_attempt_at": r["next_attempt_at"], "last_error": r["last_error"], "created_at": r["created_at"],
         "updated_at": r["updated_at"], "log": by_delivery.get(r["id"], [])}
        for r in rows
    ]


def _partner(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "kind": row["kind"], "sector": row["sector"],
            "municipality": row["municipality"], "created_at": row["created_at"]}


async def retry_delivery(rt: Runtime, delivery_id: uuid.UUID) -> None:
    """One more attempt for a failed delivery (what replaying its dead letter cannot do: the inbox has seen it)."""
    async with rt.uow() as uow:
        row = await deliveries.requeue_failed(uow.conn, delivery_id, rt.clock.now())
        if row is None and not await uow.conn.fetchval("SELECT true FROM deliveries WHERE id = $1", delivery_id):
            raise NotFound(str(delivery_id))
        if row is None:
            raise Conflict("id", "alleen een mislukte bezorging kan opnieuw worden verstuurd")
        if row["webhook_id"] is not None:
            hook = await partners.webhook(uow.conn, row["webhook_id"])
            if hook is None or hook["disabled_at"] is not None:
                raise Conflict("id", "de webhook is uitgeschakeld; schakel hem eerst weer in")
        await deliveries.wake_dispatcher(uow.conn)  # sent at commit, so not when refused above
