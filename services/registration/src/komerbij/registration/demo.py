"""Demo activities for `make run` (LOAD_DEMO_DATA=true): a few published activities in the next edition.

Idempotent: fixed ids, so a restart adds nothing twice. Events go through the outbox like real ones, so the other
services (notifications) see them too.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

from komerbij.contracts.events import registration as ev
from komerbij.registration.adapters import activities, editions
from komerbij.registration.domain.activity import Activity, Contact, Venue
from komerbij.registration.domain.edition import AMSTERDAM
from komerbij.registration.service.outgoing import activity_event
from komerbij.runtime import reference
from komerbij.runtime.service import Runtime

_NS = uuid.UUID("6f1d2a8e-3c1b-4c55-9a57-5b0d8f9e2a10")
DEMO_OWNER = "demo-organiser"


def _demo(year: int, start: datetime) -> list[Activity]:
    def at(day: int, hour: int) -> datetime:
        return datetime.combine(start.date() + timedelta(days=day), time(hour), AMSTERDAM)

    def activity(key: str, **fields: object) -> Activity:
        municipality = fields.get("municipality")
        place = reference.municipality(str(municipality)) if municipality else None
        base = {
            "id": str(uuid.uuid5(_NS, f"{year}-{key}")), "edition_year": year, "status": "published",
            "online_url": None, "phone": None, "province": place.province if place else None,
            "target_groups": ["ouderen"], "price_eur": 0.0, "accessibility": ["wheelchair"],
            "kom_erbij": True, "owner_subject": DEMO_OWNER, "owner_municipality": municipality,
        }
        return Activity(**{**base, **fields})  # type: ignore[arg-type]

    return [
        activity("samen-koken", title="Samen koken in De Linde", category="eettafel",
                 description="Samen een maaltijd bereiden en eten. Iedereen is welkom, aanschuiven kan altijd.",
                 starts_at=at(1, 17), ends_at=at(1, 20), municipality="GM0363", capacity=12,
                 venue=Venue("Buurtkamer De Linde", "Lindengracht 12", "1015 KK", "Amsterdam"),
                 contact=Contact("Welzijn West", "info@example.org", "0201234567")),
        activity("rollatorwandeling", title="Rollatorwandeling door het park", category="wandelen_bewegen",
                 description="Een rustige wandeling van een half uur, met koffie na afloop. Eén rondje, geen haast.",
                 starts_at=at(2, 10), ends_at=at(2, 12), municipality="GM0518", capacity=20,
                 venue=Venue("Zuiderpark, hoofdingang", "Mr. P. Droogleever Fortuynweg 21", "2533 SR", "Den Haag"),
                 contact=Contact("Buurtteam Zuid", "wandelen@example.org", None)),
        activity("taalcafe", title="Taalcafé", category="koffie_ontmoeting",
                 description="Nederlands oefenen bij een kop koffie, met vrijwilligers uit de buurt.",
                 starts_at=at(3, 14), ends_at=at(3, 16), municipality="GM0946", capacity=None,
                 target_groups=["iedereen"],
                 venue=Venue("Bibliotheek Nederweert", "Kerkstraat 2", "6031 CG", "Nederweert"),
                 contact=Contact("Bibliotheek", None, "0495123456")),
        activity("belcirkel", title="Belcirkel: elke ochtend even bellen", category="online_telefonisch",
                 description="Een vast telefoontje in de ochtend met iemand uit de belcirkel.",
                 starts_at=at(0, 10), ends_at=at(0, 11), municipality=None, capacity=50, venue=None,
                 phone="0800 1234567", owner_partner="demo-partner", accessibility=[],
                 contact=Contact("Landelijke belcirkel", "bel@example.org", None)),
    ]


async def load(rt: Runtime) -> None:
    if not rt.settings.load_demo_data:
        return
    today = rt.clock.now().astimezone(AMSTERDAM).date()
    async with rt.uow() as uow:
        upcoming = [e for e in await editions.all_editions(uow.conn) if e.starts_on > today]
        if not upcoming:
            return
        edition = upcoming[0]
        start = datetime.combine(edition.starts_on, time(), AMSTERDAM)
        for a in _demo(edition.year, start):
            if await activities.get(uow.conn, a.id) is not None:
                continue
            await activities.insert(uow.conn, a)
            stored = await activities.get(uow.conn, a.id)
            assert stored is not None
            await uow.emit(activity_event(ev.ActivityPublished, stored, rt.settings.public_base_url))
