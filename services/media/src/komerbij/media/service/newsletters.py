"""Use cases of the nieuwsflits: compose an edition (a draft), preview it as readers will see it, send it (an event
through the outbox, in the transaction that marks it sent), read the public archive, and take in what other services
tell: the agenda (registration.activities) and delivery progress (notifications.newsletters).

Media never asks registration or notifications anything: "Uitgelicht" is picked from media's own read model of the
agenda, and the progress on the edition's page is what notifications last reported.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from komerbij.contracts.events.newsletter import NewsletterProgress, NewsletterSent
from komerbij.contracts.events.registration import ActivityEvent, ActivityPublished, ActivityUpdated
from komerbij.media.adapters import newsletter_body
from komerbij.media.adapters import newsletters as store
from komerbij.media.settings import settings_of
from komerbij.runtime.http import ProblemError, field_errors
from komerbij.runtime.reference import municipality
from komerbij.runtime.service import Runtime

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MAX_MENTIONS = 20  # "a selection": more than this is no longer one
AGENDA_CHOICES = 100  # upcoming activities offered to pick from


def _not_found() -> ProblemError:
    return ProblemError(404, "Niet gevonden", "No edition with this id.")


@dataclass(frozen=True)
class Preview:
    edition: asyncpg.Record
    content: dict[str, Any]  # the event's data, bodies excluded
    subject: str
    body_html: str
    body_text: str
    mail_html: str  # the whole mail with a stand-in greeting and footer
    mail_text: str


def archive_path(number: int) -> str:
    return f"/media/nieuwsflits/archief/{number}"


def _place(event: ActivityEvent) -> str:
    if event.online:
        return "online"
    found = municipality(event.municipality or "")
    city = event.venue.city if event.venue else (found.name if found else "")
    return ", ".join(p for p in (event.venue.name if event.venue else None, city) if p)


async def take_activity(conn: asyncpg.Connection, event: ActivityEvent, at: datetime) -> None:
    """The agenda's read model follows the topic: published in, changed along, cancelled or rejected out."""
    values = {"activity_id": event.activity_id, "title": event.title, "starts_at": event.starts_at,
              "ends_at": event.ends_at, "municipality": event.municipality, "place": _place(event),
              "url": event.url, "status": "published"}
    if isinstance(event, ActivityPublished):
        await store.upsert_activity(conn, values, at)
    elif isinstance(event, ActivityUpdated):
        await store.update_known_activity(conn, values, at)
    else:  # cancelled or rejected: not to be picked any more
        await store.set_activity_status(conn, event.activity_id, "cancelled", at)


async def take_progress(conn: asyncpg.Connection, event: NewsletterProgress) -> None:
    try:
        edition_id = uuid.UUID(event.edition_id)
    except ValueError:
        return  # not one of ours
    await store.record_progress(conn, edition_id, event.total, event.sent, event.failed, event.skipped, event.at)


async def agenda(rt: Runtime, now: datetime) -> list[asyncpg.Record]:
    async with rt.pool.acquire() as conn:
        return await store.upcoming_activities(conn, now, AGENDA_CHOICES)


async def _checked(conn: asyncpg.Connection, values: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The rules a schema cannot check: a whole period, and the picked activities in the agenda, ahead, once each."""
    errors: dict[str, str] = {}
    start, end = values["period_from"], values["period_to"]
    if (start is None) != (end is None):
        errors["period_to" if end is None else "period_from"] = "Geef een begin- en een einddatum, of geen van beide."
    elif start and end and end < start:
        errors["period_to"] = "De einddatum ligt voor de begindatum."
    ids: list[str] = values["activity_ids"]
    known = await store.activities(conn, ids) if ids else {}
    for i, activity_id in enumerate(ids):
        row = known.get(activity_id)
        if row is None or row["status"] != "published":
            errors[f"activity_ids.{i}"] = "Deze activiteit staat niet (meer) in de agenda."
        elif row["ends_at"] < now:
            errors[f"activity_ids.{i}"] = "Deze activiteit is al voorbij."
        elif activity_id in ids[:i]:
            errors[f"activity_ids.{i}"] = "Deze activiteit is al gekozen."
    if errors:
        raise field_errors(errors)
    return values


async def create_edition(rt: Runtime, values: dict[str, Any], who: str, now: datetime) -> uuid.UUID:
    edition_id = uuid.uuid4()
    async with rt.uow() as uow:
        await store.insert_edition(uow.conn, edition_id, await _checked(uow.conn, values, now), who, now)
    return edition_id


async def update_edition(rt: Runtime, edition_id: uuid.UUID, values: dict[str, Any], now: datetime) -> None:
    async with rt.uow() as uow:
        row = await store.edition(uow.conn, edition_id, lock=True)
        if row is None:
            raise _not_found()
        if row["status"] != "draft":
            raise ProblemError(409, "Deze nieuwsflits is al verstuurd", "A sent edition cannot be changed.")
        await store.update_edition(uow.conn, edition_id, await _checked(uow.conn, values, now), now)


async def edition(rt: Runtime, edition_id: uuid.UUID) -> asyncpg.Record:
    async with rt.pool.acquire() as conn:
        row = await store.edition(conn, edition_id)
    if row is None:
        raise _not_found()
    return row


async def editions(rt: Runtime) -> list[asyncpg.Record]:
    async with rt.pool.acquire() as conn:
        return await store.editions(conn)


def _period_bounds(row: asyncpg.Record) -> tuple[datetime, datetime] | None:
    if row["period_from"] is None or row["period_to"] is None:
        return None
    start = datetime.combine(row["period_from"], time(), AMSTERDAM)
    return start, datetime.combine(row["period_to"] + timedelta(days=1), time(), AMSTERDAM)


async def _content(conn: asyncpg.Connection, rt: Runtime, row: asyncpg.Record) -> dict[str, Any]:
    """The edition as the event carries it (bodies excluded): what it shows today, frozen when it is sent."""
    if row["content"] is not None:
        return {k: v for k, v in row["content"].items() if k not in ("body_html", "body_text")}
    bounds = _period_bounds(row)
    mentions = await store.featured_mentions(conn, *bounds, MAX_MENTIONS) if bounds else []
    picked = await store.activities(conn, list(row["activity_ids"])) if row["activity_ids"] else {}
    # Readers get the activity's page at the front door (its address plan), not the `url` registration's events carry
    # (that is its API's).
    activities = [picked[i] for i in row["activity_ids"] if i in picked and picked[i]["status"] == "published"]
    base = settings_of(rt).pages_base
    return {
        "edition_id": str(row["id"]), "number": row["number"], "title": row["title"], "intro": row["intro"],
        "sections": list(row["sections"]),
        "mentions": [{"mention_id": str(m["id"]), "outlet": m["outlet_name"], "published_at": m["published_at"],
                      "title": m["title"], "url": m["url"]} for m in mentions],
        "activities": [{"activity_id": a["activity_id"], "title": a["title"], "starts_at": a["starts_at"],
                        "place": a["place"],
                        "url": f"{base}/agenda/{a['activity_id']}"} for a in activities],
        "dates": sorted(row["dates"], key=lambda d: d["day"]),
        "sent_at": row["sent_at"], "archive_url": None,
    }


async def preview(rt: Runtime, edition_id: uuid.UUID) -> Preview:
    async with rt.pool.acquire() as conn:
        row = await store.edition(conn, edition_id)
        if row is None:
            raise _not_found()
        content = await _content(conn, rt, row)
    return _preview(row, content)


def _preview(row: asyncpg.Record, content: dict[str, Any]) -> Preview:
    if row["content"] is not None:
        body_html, body_text = row["content"]["body_html"], row["content"]["body_text"]
    else:
        body_html, body_text = newsletter_body.render(content)
    mail_html, mail_text = newsletter_body.render_preview(content, body_html, body_text)
    return Preview(row, content, newsletter_body.subject(content), body_html, body_text, mail_html, mail_text)


async def send(rt: Runtime, edition_id: uuid.UUID, who: str, now: datetime) -> int:
    """Number the edition, freeze its content and write `NewsletterSent`, all in one transaction: sent once, with
    exactly the content the event carries. A second send is 409 (the first one's event is the only one)."""
    async with rt.uow() as uow:
        row = await store.edition(uow.conn, edition_id, lock=True)
        if row is None:
            raise _not_found()
        if row["status"] != "draft":
            raise ProblemError(409, "Deze nieuwsflits is al verstuurd", "The edition was sent before.")
        content = await _content(uow.conn, rt, row)
        if not (content["intro"] or content["sections"] or content["mentions"] or content["activities"]):
            raise field_errors({"intro": "Een lege nieuwsflits wordt niet verstuurd: schrijf een inleiding, "
                                         "een stuk, of kies vermeldingen of activiteiten."},
                               title="Nog niets om te versturen")
        number = await store.next_number(uow.conn)
        content.update(number=number, sent_at=now,
                       archive_url=f"{settings_of(rt).pages_base}{archive_path(number)}")
        body_html, body_text = newsletter_body.render(content)
        event = NewsletterSent.model_validate({**content, "body_html": body_html, "body_text": body_text})
        await store.mark_sent(uow.conn, edition_id, number, event.model_dump(mode="json"), who, now)
        await uow.emit(event)
    return number


async def archive(rt: Runtime) -> list[asyncpg.Record]:
    async with rt.pool.acquire() as conn:
        return await store.sent_editions(conn)


async def archived(rt: Runtime, number: int) -> Preview:
    async with rt.pool.acquire() as conn:
        row = await store.edition_by_number(conn, number)
    if row is None:
        raise ProblemError(404, "Niet gevonden", "No sent edition with this number.")
    return _preview(row, {k: v for k, v in row["content"].items() if k not in ("body_html", "body_text")})
