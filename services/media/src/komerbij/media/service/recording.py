"""Recording a mention, whichever way it came in (feed, manual entry, vendor import).

One article is one mention: a link already known by its canonical URL is not recorded again. A near-identical
piece from another outlet becomes a copy of the earliest publication; when an earlier publication turns up later,
it becomes the original and the group moves under it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from komerbij.contracts.events.media import MentionRecorded, MentionUpdated
from komerbij.media.adapters import store
from komerbij.media.domain.places import link_municipalities
from komerbij.media.domain.syndication import Story, is_copy
from komerbij.media.domain.urls import canonical_url
from komerbij.media.service.mention_events import mention_event
from komerbij.runtime.reference import fold
from komerbij.runtime.service import UnitOfWork


@dataclass(frozen=True)
class Candidate:
    outlet_id: uuid.UUID
    outlet_name: str
    source: str
    title: str
    published_at: datetime
    summary: str = ""
    url: str | None = None
    programme: str | None = None
    note: str | None = None
    reach: int | None = None
    feed_id: uuid.UUID | None = None
    sentiment: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Recorded:
    id: uuid.UUID
    created: bool


def search_text(*parts: str | None) -> str:
    return fold(" ".join(p for p in parts if p))


async def record(uow: UnitOfWork, c: Candidate, *, now: datetime, window: timedelta) -> Recorded:
    conn = uow.conn
    canonical = canonical_url(c.url) if c.url else None
    if canonical:
        existing = await store.mention_id_by_canonical_url(conn, canonical)
        if existing is not None:
            return Recorded(existing, created=False)
    story = Story(c.title, c.summary)
    match = next(
        (row for row in await store.syndication_candidates(conn, c.outlet_id, c.published_at, window)
         if is_copy(story, Story(row["title"], row["summary"]))),
        None,
    )
    earlier_than_match = match is not None and c.published_at < match["published_at"]
    mention_id = uuid.uuid4()
    inserted = await store.insert_mention(conn, {
        "id": mention_id, "outlet_id": c.outlet_id, "feed_id": c.feed_id, "source": c.source, "title": c.title,
        "summary": c.summary, "url": c.url, "canonical_url": canonical, "programme": c.programme, "note": c.note,
        "reach": c.reach, "published_at": c.published_at,
        "municipalities": link_municipalities(c.title, c.summary),
        "original_id": match["id"] if match is not None and not earlier_than_match else None,
        "sentiment": c.sentiment, "tags": c.tags,
        "search_text": search_text(c.title, c.summary, c.programme, c.note, c.outlet_name),
        "created_at": now, "updated_at": now,
    })
    if not inserted:  # recorded by a concurrent poll between our check and our insert
        existing = await store.mention_id_by_canonical_url(conn, canonical) if canonical else None
        assert existing is not None
        return Recorded(existing, created=False)
    moved = await store.regroup_under(conn, match["id"], mention_id, now) if earlier_than_match else []
    row = await store.mention(conn, mention_id)
    await uow.emit(mention_event(MentionRecorded, row))
    for other in await store.mentions_by_ids(conn, moved):
        await uow.emit(mention_event(MentionUpdated, other))
    return Recorded(mention_id, created=True)
