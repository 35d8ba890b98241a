"""The media service's business metrics: mentions by medium and scope, feed polls by outcome, failing feeds.

Labels are bounded (six media, three scopes, three outcomes); no feed URLs or outlet names, which would grow without
bound and say nothing an operator needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from komerbij.media.adapters import store
from komerbij.media.domain.feeds import OUTCOMES
from komerbij.media.domain.mentions import MEDIA, SCOPES
from komerbij.runtime.metrics import Metrics

if TYPE_CHECKING:
    from komerbij.runtime.service import Runtime


class MediaMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.mentions = metrics.gauge("komerbij_mentions", "Mentions recorded (copies included), by medium and scope",
                                      ["medium", "scope"])
        self.feed_polls = metrics.counter("komerbij_feed_polls_total", "Feed polls by outcome", ["outcome"])
        self.irrelevant_items = metrics.counter(
            "komerbij_feed_items_irrelevant_total", "Feed items fetched without a campaign term (not recorded)", []
        )
        self.feeds_failing = metrics.gauge("komerbij_feeds_failing", "Feeds whose last poll failed", [])
        for outcome in OUTCOMES:
            self.feed_polls.labels(outcome)


_BY_REGISTRY: WeakKeyDictionary[Metrics, MediaMetrics] = WeakKeyDictionary()


def media_metrics(rt: Runtime) -> MediaMetrics:
    """One set per running service (tests run several services in one process, each with its own registry)."""
    if rt.metrics not in _BY_REGISTRY:
        _BY_REGISTRY[rt.metrics] = MediaMetrics(rt.metrics)
    return _BY_REGISTRY[rt.metrics]


async def refresh(rt: Runtime) -> None:
    m = media_metrics(rt)
    async with rt.pool.acquire() as conn:
        counts = {(r["medium"], r["scope"]): r["n"] for r in await store.mention_counts(conn)}
        failing = await store.count_failing_feeds(conn)
    for medium in MEDIA:
        for scope in SCOPES:
            m.mentions.labels(medium, scope).set(counts.get((medium, scope), 0))
    m.feeds_failing.set(failing)
