"""Wiring of the media service: the one place where its routes, handlers and jobs are put together."""

from __future__ import annotations

import dataclasses

from komerbij.contracts.events.media import MentionFeatured, MentionRecorded, MentionUpdated
from komerbij.contracts.events.newsletter import NewsletterSent
from komerbij.media import demo, observability
from komerbij.media.entrypoints.api import coverage, feeds, mentions, newsletters, outlets
from komerbij.media.entrypoints.events import make_event_router
from komerbij.media.entrypoints.pages import coverage as coverage_pages
from komerbij.media.entrypoints.pages import entry as entry_pages
from komerbij.media.entrypoints.pages import feeds as feed_pages
from komerbij.media.entrypoints.pages import imports as import_pages
from komerbij.media.entrypoints.pages import mentions as mention_pages
from komerbij.media.entrypoints.pages import newsletters as newsletter_pages
from komerbij.media.entrypoints.pages import outlets as outlet_pages
from komerbij.media.entrypoints.pages import static as static_pages
from komerbij.media.service.polling import poll_due_feeds
from komerbij.media.settings import Settings
from komerbij.runtime.jobs import Job
from komerbij.runtime.service import ServiceSpec, serve
from komerbij.runtime.settings import load_settings

# How often the scheduler looks for due feeds; each feed keeps its own interval and backoff.
FEED_POLL_TICK_SECONDS = 30.0

SPEC = ServiceSpec(
    name="media",
    title="komerbij media",
    description="Media mentions of the week: outlets, feeds, manual and CSV entry, coverage.",
    settings_class=Settings,
    migrations_package="komerbij.media.migrations",
    routers=[outlets.router, feeds.router, mentions.router, coverage.router, newsletters.router,
             # pages; /media/vermeldingen/nieuw before /media/vermeldingen/{id}
             static_pages.router, entry_pages.router, mention_pages.router, import_pages.router,
             feed_pages.router, outlet_pages.router, coverage_pages.router, newsletter_pages.router],
    events=make_event_router("media"),
    publishes=[MentionRecorded, MentionUpdated, MentionFeatured, NewsletterSent],
    jobs=[Job("feed-poll", FEED_POLL_TICK_SECONDS, poll_due_feeds)],
    refreshers=[observability.refresh],
    on_start=[demo.load],
    default_port=8003,
)


def main() -> None:
    settings = load_settings(Settings)
    assert SPEC.events is not None
    serve(dataclasses.replace(SPEC, events=SPEC.events.with_consumer(settings.consumer_group)))
