"""Demo data for `make run`: the outlets of the 2021 newsletter and a handful of mentions, loaded once.

The mentions fall in the week the coverage dashboard opens on (`campaign_period`), so a new comms user sees
figures at once; one regional piece is taken over by two national sites (syndicated copies). Idempotent: outlets
are found by name, mentions by their canonical URL, so a restart adds nothing. Mentions go through the same use case
as real ones, so their events are published too.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from komerbij.media.adapters import store
from komerbij.media.domain.coverage import campaign_period
from komerbij.media.service import mentions
from komerbij.media.service.recording import Candidate, record
from komerbij.runtime.service import Runtime

log = logging.getLogger(__name__)
AMS = ZoneInfo("Europe/Amsterdam")

OUTLETS = [
    {"name": "EenVandaag", "medium": "tv", "scope": "national", "reach": 900000},
    {"name": "Trouw", "medium": "print", "scope": "national", "reach": 250000},
    {"name": "Algemeen Dagblad", "medium": "online", "scope": "national", "reach": 1200000},
    {"name": "De Telegraaf", "medium": "online", "scope": "national", "reach": 1500000},
    {"name": "Wendy", "medium": "print", "scope": "national", "reach": 60000},
    {"name": "RTV Oost", "medium": "tv", "scope": "regional", "province": "Overijssel", "reach": 250000},
    {"name": "Omroep Flevoland", "medium": "radio", "scope": "regional", "province": "Flevoland", "reach": 120000},
    {"name": "BN De Stem", "medium": "print", "scope": "regional", "province": "Noord-Brabant", "reach": 90000},
]
SOURCE = "demo: eigen schatting programmateam"
# Featured for the nieuwsflits: "In de media" of a demo edition over the week has these two.
FEATURED = ("https://trouw.example/kom-erbij-zwolle", "https://bndestem.example/breda-koffie")

BREDA = "Koffie bij de buurtsuper in Breda tijdens Week tegen Eenzaamheid"
BREDA_LEAD = ("In Breda schuiven bewoners aan voor een bakje koffie bij de buurtsuper. Vrijwilligers schenken in en "
              "maken een praatje met wie even binnenloopt.")
# (outlet, title, lead, programme or page, link, hours after noon on the day before the week starts)
MENTIONS = [
    ("EenVandaag", "Week tegen Eenzaamheid: ouderen vertellen over eenzaamheid", None, "Uitzending 18:15",
     "https://eenvandaag.example/week-tegen-eenzaamheid-ouderen", 6),
    ("Trouw", "Kom erbij: samen eten tegen eenzaamheid in Zwolle", "Dorpsmaaltijd tijdens de Week tegen "
     "Eenzaamheid brengt buurtgenoten bij elkaar.", "pagina 4", "https://trouw.example/kom-erbij-zwolle", 24),
    ("BN De Stem", BREDA, BREDA_LEAD, "regio, pagina 7", "https://bndestem.example/breda-koffie", 44),
    ("Algemeen Dagblad", BREDA, BREDA_LEAD, None, "https://ad.example/breda-koffie", 49),  # copies of BN De Stem's
    ("De Telegraaf", BREDA, BREDA_LEAD, None, "https://telegraaf.example/breda-koffie", 52),
    ("RTV Oost", "Rollatorwandeling in Enschede: Week tegen Eenzaamheid", None, "Oost Vandaag",
     "https://rtvoost.example/rollator-enschede", 78),
    ("Algemeen Dagblad", "Samen koken in Amsterdam tijdens de Week tegen Eenzaamheid",
     "In de buurtkamer aan de Lindengracht schuiven bewoners aan voor een maaltijd.", None,
     "https://ad.example/amsterdam-samen-koken", 48),
]
# Days before now: coverage that looks ahead to the next week (the dashboard shows it with that edition).
RECENT = [
    ("Trouw", "Amsterdam zoekt gastvrouwen en gastheren voor de Week tegen Eenzaamheid",
     "Kom erbij: de gemeente Amsterdam bereidt de volgende week al voor.", "pagina 3",
     "https://trouw.example/amsterdam-vooruitblik", 3),
]


async def load(rt: Runtime) -> None:
    if not rt.settings.load_demo_data:
        return
    now = rt.clock.now()
    week = campaign_period(now.astimezone(AMS).date())
    start = datetime.combine(week.week_start - timedelta(days=1), time(12), AMS)
    async with rt.uow() as uow:
        ids: dict[str, uuid.UUID] = {}
        for values in OUTLETS:
            row = await store.outlet_by_name(uow.conn, values["name"]) or await store.insert_outlet(
                uow.conn, uuid.uuid4(), {**values, "reach_source": SOURCE, "reach_date": start.date()})
            assert row is not None
            ids[values["name"]] = row["id"]
        created = 0
        featured: list[uuid.UUID] = []
        dated = [(*m[:5], min(start + timedelta(hours=m[5]), now)) for m in MENTIONS]
        dated += [(*m[:5], now - timedelta(days=m[5])) for m in RECENT]
        for outlet, title, summary, programme, url, published_at in dated:
            result = await record(uow, Candidate(
                outlet_id=ids[outlet], outlet_name=outlet, source="manual", title=title, summary=summary or "",
                programme=programme, url=url, published_at=published_at,
            ), now=now, window=timedelta(hours=72))
            created += result.created
            if result.created and url in FEATURED:
                featured.append(result.id)
    for mention_id in featured:  # picked for the nieuwsflits, as comms do on a mention's page
        await mentions.update_mention(rt, mention_id, {"featured": True}, now)
    log.info("demo data loaded", extra={"mentions_created": created})
