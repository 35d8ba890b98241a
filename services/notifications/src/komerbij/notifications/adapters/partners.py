"""SQL of partners, contacts, webhooks, subscriptions and the suppression list."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg


async def add_partner(conn: asyncpg.Connection, partner_id: str, name: str, kind: str, sector: str | None,
                      municipality: str | None) -> bool:
    inserted = await conn.fetchval(
        """INSERT INTO partners (id, name, kind, sector, municipality) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (id) DO NOTHING RETURNING true""",
        partner_id, name, kind, sector, municipality,
    )
    return bool(inserted)


async def partner(conn: asyncpg.Connection, partner_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM partners WHERE id = $1", partner_id)


async def partners(conn: asyncpg.Connection, kind: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM partners WHERE ($1::text IS NULL OR kind = $1) ORDER BY name, id", kind
    )


async def update_partner(conn: asyncpg.Connection, partner_id: str, name: str, kind: str, sector: str | None,
                         municipality: str | None) -> None:
    await conn.execute(
        "UPDATE partners SET name = $2, kind = $3, sector = $4, municipality = $5 WHERE id = $1",
        partner_id, name, kind, sector, municipality,
    )




async def municipality_partners_of(conn: asyncpg.Connection, codes: list[str]) -> dict[str, list[str]]:
    """The municipality partners of each CBS code; a code without a partner is absent."""
    rows = await conn.fetch(
        "SELECT municipality, id FROM partners WHERE kind = 'municipality' AND municipality = ANY($1::text[])", codes
    )
    found: dict[str, list[str]] = {}
    for r in rows:
        found.setdefault(r["municipality"], []).append(r["id"])
    return found


async def add_contact(conn: asyncpg.Connection, contact_id: uuid.UUID, partner_id: str, name: str,
                      email: str) -> None:
    await conn.execute(
        "INSERT INTO contacts (id, partner_id, name, email) VALUES ($1, $2, $3, $4)",
        contact_id, partner_id, name, email,
    )


async def contact(conn: asyncpg.Connection, contact_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM contacts WHERE id = $1", contact_id)


async def contacts_by_id(conn: asyncpg.Connection, contact_ids: list[uuid.UUID]) -> dict[uuid.UUID, asyncpg.Record]:
    """`contact` for several ids at once; an id without a contact (erased) is absent."""
    rows = await conn.fetch("SELECT * FROM contacts WHERE id = ANY($1::uuid[])", contact_ids)
    return {r["id"]: r for r in rows}


async def contacts_of(conn: asyncpg.Connection, partner_id: str, *, subscribed_only: bool) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT * FROM contacts WHERE partner_id = $1 AND (NOT $2 OR unsubscribed_at IS NULL)
           ORDER BY created_at""",
        partner_id, subscribed_only,
    )


async def contacts_of_partners(conn: asyncpg.Connection, partner_ids: list[str], *,
                               subscribed_only: bool) -> dict[str, list[asyncpg.Record]]:
    """`contacts_of` for several partners at once, each list in the same order."""
    rows = await conn.fetch(
        """SELECT * FROM contacts WHERE partner_id = ANY($1::text[]) AND (NOT $2 OR unsubscribed_at IS NULL)
           ORDER BY created_at""",
        partner_ids, subscribed_only,
    )
    return _by_partner(rows)


def _by_partner(rows: list[asyncpg.Record]) -> dict[str, list[asyncpg.Record]]:
    found: dict[str, list[asyncpg.Record]] = {}
    for r in rows:
        found.setdefault(r["partner_id"], []).append(r)
    return found


async def unsubscribe(conn: asyncpg.Connection, contact_id: uuid.UUID, now: datetime) -> bool:
    result = await conn.execute(
        "UPDATE contacts SET unsubscribed_at = $2 WHERE id = $1 AND unsubscribed_at IS NULL", contact_id, now
    )
    return result.endswith(" 1")


async def erase_contact(conn: asyncpg.Connection, contact_id: uuid.UUID, address_hash: str, reason: str) -> None:
    """Delete the contact and every copy of its address; the hash stays so the address is not re-added unnoticed."""
    await conn.execute(
        """INSERT INTO suppressed_addresses (address_hash, reason) VALUES ($1, $2)
           ON CONFLICT (address_hash) DO NOTHING""",
        address_hash, reason,
    )
    await conn.execute("UPDATE deliveries SET address = NULL WHERE contact_id = $1", contact_id)
    await conn.execute("DELETE FROM contacts WHERE id = $1", contact_id)


async def unsubscribed_before(conn: asyncpg.Connection, before: datetime) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, email FROM contacts WHERE unsubscribed_at IS NOT NULL AND unsubscribed_at <= $1", before
    )


async def is_suppressed(conn: asyncpg.Connection, address_hash: str) -> bool:
    return bool(await conn.fetchval("SELECT true FROM suppressed_addresses WHERE address_hash = $1", address_hash))


async def lift_suppression(conn: asyncpg.Connection, address_hash: str) -> None:
    await conn.execute("DELETE FROM suppressed_addresses WHERE address_hash = $1", address_hash)


async def add_webhook(conn: asyncpg.Connection, webhook_id: uuid.UUID, partner_id: str, url: str,
                      secret: str) -> None:
    await conn.execute(
        "INSERT INTO webhooks (id, partner_id, url, secret) VALUES ($1, $2, $3, $4)",
        webhook_id, partner_id, url, secret,
    )


async def webhook(conn: asyncpg.Connection, webhook_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM webhooks WHERE id = $1", webhook_id)


async def webhooks_by_id(conn: asyncpg.Connection, webhook_ids: list[uuid.UUID]) -> dict[uuid.UUID, asyncpg.Record]:
    """`webhook` for several ids at once; an id without a webhook is absent."""
    rows = await conn.fetch("SELECT * FROM webhooks WHERE id = ANY($1::uuid[])", webhook_ids)
    return {r["id"]: r for r in rows}




async def active_webhooks_of_partners(conn: asyncpg.Connection,
                                      partner_ids: list[str]) -> dict[str, list[asyncpg.Record]]:
    """Each partner's webhooks that are not disabled, oldest first."""
    rows = await conn.fetch(
        """SELECT * FROM webhooks WHERE partner_id = ANY($1::text[]) AND disabled_at IS NULL
           ORDER BY created_at""",
        partner_ids,
    )
    return _by_partner(rows)


async def webhooks_of(conn: asyncpg.Connection, partner_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM webhooks WHERE partner_id = $1 ORDER BY created_at", partner_id)




async def webhooks_failed(conn: asyncpg.Connection, webhook_ids: list[uuid.UUID],
                          now: datetime) -> dict[uuid.UUID, datetime]:
    """Marks when each webhook's current run of failures began (kept across failures); returns those moments."""
    rows = await conn.fetch(
        """UPDATE webhooks SET failing_since = coalesce(failing_since, $2) WHERE id = ANY($1::uuid[])
           RETURNING id, failing_since""",
        webhook_ids, now,
    )
    return {r["id"]: r["failing_since"] for r in rows}




async def webhooks_succeeded(conn: asyncpg.Connection, webhook_ids: list[uuid.UUID]) -> None:
    """A success ends each webhook's run of failures."""
    if webhook_ids:
        await conn.execute("UPDATE webhooks SET failing_since = NULL WHERE id = ANY($1::uuid[])", webhook_ids)


async def enable_webhook(conn: asyncpg.Connection, webhook_id: uuid.UUID) -> bool:
    """In use again, with a clean slate: its earlier failures no longer count towards disabling it."""
    result = await conn.execute(
        "UPDATE webhooks SET disabled_at = NULL, failing_since = NULL WHERE id = $1", webhook_id
    )
    return result.endswith(" 1")


async def disable_webhook(conn: asyncpg.Connection, webhook_id: uuid.UUID, now: datetime) -> bool:
    result = await conn.execute(
        "UPDATE webhooks SET disabled_at = $2 WHERE id = $1 AND disabled_at IS NULL", webhook_id, now
    )
    return result.endswith(" 1")


async def add_subscription(conn: asyncpg.Connection, subscription_id: uuid.UUID, partner_id: str,
                           event_types: list[str], municipalities: list[str], provinces: list[str],
                           mode: str) -> None:
    await conn.execute(
        """INSERT INTO subscriptions (id, partner_id, event_types, municipalities, provinces, mode)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        subscription_id, partner_id, event_types, municipalities, provinces, mode,
    )




async def subscription(conn: asyncpg.Connection, subscription_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM subscriptions WHERE id = $1", subscription_id)


async def update_subscription(conn: asyncpg.Connection, subscription_id: uuid.UUID, event_types: list[str],
                              municipalities: list[str], provinces: list[str], mode: str) -> None:
    await conn.execute(
        """UPDATE subscriptions SET event_types = $2, municipalities = $3, provinces = $4, mode = $5
           WHERE id = $1""",
        subscription_id, event_types, municipalities, provinces, mode,
    )


async def delete_subscription(conn: asyncpg.Connection, subscription_id: uuid.UUID) -> bool:
    result = await conn.execute("DELETE FROM subscriptions WHERE id = $1", subscription_id)
    return result.endswith(" 1")


async def subscriptions_for_any(conn: asyncpg.Connection, event_types: list[str]) -> list[asyncpg.Record]:
    """Every subscription naming at least one of `event_types`."""
    return await conn.fetch("SELECT * FROM subscriptions WHERE event_types && $1::text[]", event_types)


async def subscriptions_of(conn: asyncpg.Connection, partner_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM subscriptions WHERE partner_id = $1 ORDER BY created_at", partner_id)
