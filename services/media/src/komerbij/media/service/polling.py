"""Polling feeds: on schedule (the `feed-poll` job) and on demand.

Due feeds are claimed (their next poll pushed out by a lease, so a second replica leaves them alone) and fetched
concurrently, each within its own time budget; one slow or broken feed never holds up the others. What a poll
found is recorded in one transaction per feed, with the feed's new state (conditional-GET validators, last error,
backoff) committing together with its mentions and their events.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from komerbij.media.adapters import feed_client, store
from komerbij.media.domain.feeds import next_poll_at
from komerbij.media.domain.relevance import CampaignTerms
from komerbij.media.observability import media_metrics
from komerbij.media.service.recording import Candidate, record
from komerbij.media.settings import settings_of
from komerbij.runtime.service import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PollReport:
    feed_id: uuid.UUID
    outcome: str
    recorded: int = 0
    known: int = 0
    irrelevant: int = 0
    error: str | None = None


def _client(rt: Runtime) -> httpx.AsyncClient:
    """Redirects are followed, each hop through the runtime's outbound guard (public addresses only)."""
    return rt.outbound.client(follow_redirects=True, max_redirects=5)


async def poll_feed(rt: Runtime, feed_id: uuid.UUID, now: datetime, client: httpx.AsyncClient | None = None
                    ) -> PollReport | None:
    """Poll one feed now; None when it does not exist."""
    async with rt.pool.acquire() as conn:
        feed = await store.feed(conn, feed_id)
    if feed is None:
        return None
    settings = settings_of(rt)
    if client is None:
        async with _client(rt) as own:
            return await poll_feed(rt, feed_id, now, own)
    result = await feed_client.fetch_feed(
        client, feed["url"], etag=feed["etag"], last_modified=feed["last_modified"],
        timeout=settings.media_feed_timeout_seconds,
    )
    report = await _save(rt, feed, result, now)
    metrics = media_metrics(rt)
    metrics.feed_polls.labels(report.outcome).inc()
    if report.irrelevant:
        metrics.irrelevant_items.inc(report.irrelevant)
    log.info("feed polled", extra={"feed_id": str(feed_id), "outcome": report.outcome, "recorded": report.recorded})
    return report


async def _save(rt: Runtime, feed: store.Row, result: feed_client.FetchResult, now: datetime) -> PollReport:
    s = settings_of(rt)
    cap = s.media_feed_max_backoff_seconds
    interval = feed["interval_seconds"]
    async with rt.uow() as uow:
        if isinstance(result, feed_client.FeedError):
            failures = feed["consecutive_failures"] + 1
            await store.save_poll(uow.conn, feed["id"], now=now, outcome="error", error=result.error, etag=None,
                                  last_modified=None, failures=failures,
                                  next_poll_at=next_poll_at(now, interval, failures, cap))
            return PollReport(feed["id"], "error", error=result.error)
        if isinstance(result, feed_client.NotModified):
            await store.save_poll(uow.conn, feed["id"], now=now, outcome="not_modified", error=None, etag=None,
                                  last_modified=None, failures=0, next_poll_at=next_poll_at(now, interval, 0, cap))
            return PollReport(feed["id"], "not_modified")
        terms = CampaignTerms.parse(s.media_campaign_terms)
        window = timedelta(hours=s.media_syndication_window_hours)
        recorded = known = irrelevant = 0
        for item in result.items:
            if not terms.matches(item.title, item.summary):
                irrelevant += 1
                continue
            if not item.link or not item.title:
                continue  # without a link there is no article to point the newsletter at
            try:
                outcome = await record(uow, Candidate(
                    outlet_id=feed["outlet_id"], outlet_name=feed["outlet_name"], source="feed", title=item.title,
                    summary=item.summary, url=item.link, published_at=item.published_at or now, feed_id=feed["id"],
                ), now=now, window=window)
            except ValueError:  # a link that is not http(s)
                continue
            recorded += outcome.created
            known += not outcome.created
        await store.save_poll(uow.conn, feed["id"], now=now, outcome="ok", error=None, etag=result.etag,
                              last_modified=result.last_modified, failures=0,
                              next_poll_at=next_poll_at(now, interval, 0, cap))
        return PollReport(feed["id"], "ok", recorded=recorded, known=known, irrelevant=irrelevant)


async def poll_due_feeds(rt: Runtime, now: datetime) -> list[PollReport]:
    """The scheduled job: every due feed, concurrently, none waiting on another."""
    s = settings_of(rt)
    timeout = s.media_feed_timeout_seconds
    lease = timedelta(seconds=max(60.0, 4 * timeout))
    async with rt.uow() as uow:
        due = [r["id"] for r in await store.claim_due_feeds(uow.conn, now, lease, limit=500)]
    if not due:
        return []
    gate = asyncio.Semaphore(s.media_feed_concurrency)

    async def one(feed_id: uuid.UUID, client: httpx.AsyncClient) -> PollReport | None:
        async with gate:
            return await poll_feed(rt, feed_id, now, client)

    async with _client(rt) as client:
        results = await asyncio.gather(*(one(f, client) for f in due), return_exceptions=True)
    reports = []
    for feed_id, result in zip(due, results, strict=True):
        if isinstance(result, BaseException):
            # The lease expires and the feed comes round again; the others are recorded regardless.
            log.error("feed poll failed", extra={"feed_id": str(feed_id), "error_class": type(result).__name__})
        elif result is not None:
            reports.append(result)
    return reports
