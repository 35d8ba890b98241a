"""Demo data for `make run` (LOAD_DEMO_DATA=true): partners of three kinds, immediate and digest. Idempotent.

No demo webhook: `make run` has no receiver, and an endpoint that always fails would only fill the dead letters.
"""

from __future__ import annotations

import uuid

import asyncpg

from komerbij.notifications.adapters import partners
from komerbij.runtime.service import Runtime

# Fixed ids, so a restart finds what it made before instead of adding it again.
_NS = uuid.UUID("6f1c3a52-9a55-4c3e-8a57-0b8f4a3c2d10")


async def load(rt: Runtime) -> None:
    if not rt.settings.load_demo_data:
        return
    async with rt.uow() as uow:
        conn = uow.conn
        await _subscribe_to_the_nieuwsflits(conn)
        if not await partners.add_partner(conn, "gm0363", "Gemeente Amsterdam", "municipality", None, "GM0363"):
            return  # loaded before
        await partners.add_partner(conn, "humanitas", "Humanitas", "national_partner", "zorg en welzijn", None)
        await partners.add_partner(conn, "coalitie-utrecht", "Coalitie Utrecht Ontmoet", "local_coalition", None,
                                   None)
        for key, partner_id, name, email in [
            ("c1", "gm0363", "Team Ontmoeten Amsterdam", "ontmoeten@amsterdam.example"),
            ("c2", "humanitas", "Landelijk bureau Humanitas", "meldingen@humanitas.example"),
            ("c3", "coalitie-utrecht", "Coördinator Utrecht Ontmoet", "coordinator@utrechtontmoet.example"),
        ]:
            await partners.add_contact(conn, uuid.uuid5(_NS, key), partner_id, name, email)
        subscriptions = [
            ("s1", "gm0363", ["ActivityPublished", "ActivityCancelled", "SignupConfirmed"], ["GM0363"], [],
             "immediate"),
            ("s2", "humanitas", ["ActivityPublished", "MentionRecorded"], [], [], "digest"),
            ("s3", "coalitie-utrecht", ["ActivityPublished", "MentionRecorded"], [], ["Utrecht"], "immediate"),
        ]
        for key, partner_id, types, municipalities, provinces, mode in subscriptions:
            await partners.add_subscription(conn, uuid.uuid5(_NS, key), partner_id, types, municipalities,
                                            provinces, mode)
        await _subscribe_to_the_nieuwsflits(conn)


async def _subscribe_to_the_nieuwsflits(conn: asyncpg.Connection) -> None:
    """Every demo partner reads the nieuwsflits (also in a demo database from before it existed)."""
    for partner_id in ("gm0363", "humanitas", "coalitie-utrecht"):
        await conn.execute(
            """INSERT INTO subscriptions (id, partner_id, event_types, mode)
               SELECT $1, $2, '{NewsletterSent}', 'immediate' WHERE EXISTS (SELECT 1 FROM partners WHERE id = $2)
               ON CONFLICT (id) DO NOTHING""",
            uuid.uuid5(_NS, f"nieuwsflits-{partner_id}"), partner_id)
