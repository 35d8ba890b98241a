"""Comms work on mentions: manual entry, corrections and judgements (sentiment, tags, featured), deletion, lists."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from komerbij.contracts.events.media import MentionFeatured, MentionUpdated
from komerbij.media.adapters import store
from komerbij.media.domain.mentions import tidy_tags
from komerbij.media.service.mention_events import mention_event
from komerbij.media.service.recording import Candidate, record
from komerbij.media.settings import settings_of
from komerbij.runtime.http import ProblemError, field_error
from komerbij.runtime.reference import municipalities, municipality
from komerbij.runtime.service import Runtime


def _not_found() -> ProblemError:
    return ProblemError(404, "Niet gevonden", "No mention with this id.")


async def record_manual(rt: Runtime, values: dict[str, Any], now: datetime) -> uuid.UUID:
    """A TV, radio or print item typed in by comms: no relevance test (they judged it), a duplicate link is 409."""
    async with rt.uow() as uow:
        outlet = await store.outlet(uow.conn, values["outlet_id"])
        if outlet is None:
            raise field_error("outlet_id", "onbekend medium")
        result = await record(uow, Candidate(
            outlet_id=outlet["id"], outlet_name=outlet["name"], source="manual", title=values["title"],
            summary=values.get("summary") or "", url=values.get("url"), programme=values.get("programme"),
            note=values.get("note"), reach=values.get("reach"), published_at=values["published_at"],
            sentiment=values.get("sentiment"), tags=tidy_tags(values.get("tags") or []),
        ), now=now, window=timedelta(hours=settings_of(rt).media_syndication_window_hours))
        if not result.created:
            raise ProblemError(409, "Deze vermelding bestaat al", "A mention of this URL exists.",
                               extra={"id": str(result.id)})
        return result.id


async def update_mention(rt: Runtime, mention_id: uuid.UUID, changes: dict[str, Any], now: datetime) -> None:
    if "municipalities" in changes:
        codes = changes["municipalities"]
        for i, code in enumerate(codes):
            if municipality(code) is None:
                raise field_error(f"municipalities.{i}", f"onbekende gemeentecode {code!r}")
        changes["municipalities"] = sorted(set(codes))
    if "tags" in changes:
        changes["tags"] = tidy_tags(changes["tags"])
    async with rt.uow() as uow:
        before = await store.mention(uow.conn, mention_id, lock=True)
        if before is None:
            raise _not_found()
        changed = {k: v for k, v in changes.items() if before[k] != v}
        if not changed:
            return
        await store.update_mention(uow.conn, mention_id, changed, now)
        after = await store.mention(uow.conn, mention_id)
        await uow.emit(mention_event(MentionUpdated, after))
        if "featured" in changed:
            await uow.emit(mention_event(MentionFeatured, after))


async def delete_mention(rt: Runtime, mention_id: uuid.UUID, now: datetime) -> None:
    """Gone for good; its copies stay, the earliest of them taking its place as the original."""
    async with rt.uow() as uow:
        row = await store.mention(uow.conn, mention_id, lock=True)
        if row is None:
            raise _not_found()
        copies = await store.copies_of(uow.conn, [mention_id])
        if copies:
            heir = copies[0]["id"]
            await store.update_mention(uow.conn, heir, {"original_id": None}, now)
            moved = await store.regroup_under(uow.conn, mention_id, heir, now)
            for other in await store.mentions_by_ids(uow.conn, [heir, *moved]):
                await uow.emit(mention_event(MentionUpdated, other))
        if row["featured"]:  # the newsletter must drop it too
            await uow.emit(mention_event(MentionFeatured, row, featured=False))
        await store.delete_mention(uow.conn, mention_id)


async def get_mention(rt: Runtime, mention_id: uuid.UUID) -> tuple[store.Row, list[store.Row]]:
    async with rt.pool.acquire() as conn:
        row = await store.mention(conn, mention_id)
        if row is None:
            raise _not_found()
        return row, await store.copies_of(conn, [mention_id])


async def mentions_by_ids(rt: Runtime, ids: list[uuid.UUID]) -> list[store.Row]:
    """Several mentions at once (what an import kept), newest first."""
    async with rt.pool.acquire() as conn:
        rows = await store.mentions_by_ids(conn, ids)
    return sorted(rows, key=lambda r: (r["published_at"], r["id"]), reverse=True)


async def find_mentions(rt: Runtime, filters: dict[str, Any], *, limit: int | None, offset: int = 0
                        ) -> tuple[list[store.Row], dict[uuid.UUID, list[store.Row]], int]:
    """Matching mentions (originals, unless copies are asked for), with each original's copies.

    A `province` (its name) matches as coverage counts it: the outlet's region or a place the mention names."""
    if filters.get("province"):
        name = filters["province"]
        codes = sorted(c for c, m in municipalities().items() if m.province == name)
        filters = {**filters, "province": (name, codes)}
    async with rt.pool.acquire() as conn:
        rows, total = await store.find_mentions(conn, filters, limit=limit, offset=offset)
        copies: dict[uuid.UUID, list[store.Row]] = {r["id"]: [] for r in rows}
        for c in await store.copies_of(conn, list(copies)):
            copies[c["original_id"]].append(c)
    return rows, copies, total
