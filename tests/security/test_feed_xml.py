"""A feed that declares XML entities is refused before feedparser expands anything; the other feeds go on.

The attack (issue 14): one plain internal entity in the DOCTYPE, referenced a thousand times. feedparser's strict
parser gives up on the expansion and its lenient fallback then builds the whole string: a 313 KB feed became 614 MB,
1.8 GB of memory and 36 s of CPU, at every poll.
"""

from __future__ import annotations

import dataclasses
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from media.feed_server import FeedServer, Route, rss
from support.infra import Infra
from support.services import RunningService, auth, running, settings_env

from komerbij.media.adapters.feed_client import (
    MAX_LINK_CHARS,
    MAX_SUMMARY_CHARS,
    MAX_TITLE_CHARS,
    REFUSED_XML,
    FeedError,
    parse_feed,
)
from komerbij.media.app import SPEC
from komerbij.media.service.polling import poll_due_feeds

COMMS = auth("comms")
MEMORY_BOUND = 20 * 1024 * 1024  # the refused feed is 0.3 MB; its expansion would be hundreds of MB


def entity_feed(entity_bytes: int = 313 * 1024, references: int = 1000, *, well_formed: bool = True) -> bytes:
    """An RSS document whose item description references one large internal entity `references` times."""
    title = "Week tegen Eenzaamheid" if well_formed else "Week tegen Eenzaamheid & meer"  # a bare & breaks XML
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE rss [\n<!ENTITY big "{"A" * entity_bytes}">\n]>\n'
            f'<rss version="2.0"><channel><title>Test</title><link>http://example.test/</link>'
            f"<description>Test</description><item><title>{title}</title><link>https://a.example/x</link>"
            f"<description>{'&big;' * references}</description></item></channel></rss>").encode()


def parse_with_peak(content: bytes) -> tuple[object, int]:
    tracemalloc.start()
    try:
        result = parse_feed(content, "application/rss+xml")
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("variant", ["well-formed", "malformed", "utf-16", "garbage-before-doctype"])
def test_a_feed_with_an_entity_referenced_a_thousand_times_is_refused_with_memory_flat(variant: str) -> None:
    content = entity_feed(well_formed=variant != "malformed")
    if variant == "utf-16":
        content = content.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    if variant == "garbage-before-doctype":  # expat fails at once; feedparser's lenient parser would still expand
        content = b"\x00\x00junk" + content
    result, peak = parse_with_peak(content)
    assert result == FeedError(REFUSED_XML)
    assert peak < MEMORY_BOUND, f"parsing took {peak / 1e6:.0f} MB"


def test_external_entities_are_refused_too() -> None:
    content = (b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY ext SYSTEM "file:///etc/passwd">\n]>\n'
               b"<rss version=\"2.0\"><channel><title>&ext;</title></channel></rss>")
    assert parse_feed(content, None) == FeedError(REFUSED_XML)


def test_ordinary_feeds_still_parse_including_an_external_dtd_that_is_never_fetched_and_sloppy_xml() -> None:
    with FeedServer() as server:  # RSS 0.91 names the Netscape DTD; here it is on this machine, to see if it is read
        server.routes["/rss-0.91.dtd"] = Route(body=b"<!ENTITY copy '(c)'>", content_type="application/xml-dtd")
        netscape = (b'<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "'
                    + server.url("/rss-0.91.dtd").encode() + b'"><rss version="0.91"><channel><title>T</title>'
                    b"<item><title>Kom erbij &amp; doe mee</title><link>https://a.example/1</link></item>"
                    b"</channel></rss>")
        sloppy = rss(("Kom erbij & doe mee", "https://a.example/2", "Buurt & koffie",
                      "Thu, 30 Sep 2027 09:00:00 +0200"))
        for content, link in ((netscape, "https://a.example/1"), (sloppy, "https://a.example/2")):
            items = parse_feed(content, None)
            assert not isinstance(items, FeedError), items
            assert [(i.title, i.link) for i in items] == [("Kom erbij & doe mee", link)]
        assert server.requests == []


def test_text_fields_are_cut_to_size_before_they_are_kept() -> None:
    long_link = "https://a.example/" + "x" * MAX_LINK_CHARS
    date = "Thu, 30 Sep 2027 09:00:00 +0200"
    content = rss(("T" * 100_000, "https://a.example/ok", "<p>" + "S" * 100_000 + "</p>", date),
                  ("Kort", long_link, "kort", date))
    items = parse_feed(content, None)
    assert not isinstance(items, FeedError)
    assert len(items[0].title) == MAX_TITLE_CHARS and len(items[0].summary) == MAX_SUMMARY_CHARS
    assert items[1].link is None  # a link longer than any real article's is no link to keep


@pytest.fixture
async def media(infra: Infra) -> AsyncIterator[RunningService]:
    env = settings_env(infra, infra.new_database("sec_media"), MEDIA_FEED_TIMEOUT_SECONDS="5")
    async with running(dataclasses.replace(SPEC, jobs=[]), env) as svc:
        yield svc


async def test_a_poll_marks_the_entity_feed_failing_with_the_reason_and_the_other_feeds_go_on(
    media: RunningService,
) -> None:
    outlet = (await media.client.post("/v1/outlets", headers=COMMS, json={
        "name": "Omroep Test", "medium": "online", "scope": "regional"})).json()["id"]
    with FeedServer() as server:
        server.routes["/bomb.xml"] = Route(body=entity_feed())
        server.routes["/good.xml"] = Route(body=rss(
            ("Koffie in de Week tegen Eenzaamheid", "https://omroep.example/koffie", "Buurtkoffie.",
             "Thu, 30 Sep 2027 09:00:00 +0200")))
        feeds = {}
        for path in ("/bomb.xml", "/good.xml"):
            r = await media.client.post("/v1/feeds", headers=COMMS, json={
                "outlet_id": outlet, "url": server.url(path), "interval_seconds": 900})
            assert r.status_code == 201, r.text
            feeds[path] = r.json()["id"]
        reports = {str(r.feed_id): r for r in await poll_due_feeds(media.runtime, datetime.now(UTC))}
    bomb, good = reports[feeds["/bomb.xml"]], reports[feeds["/good.xml"]]
    assert (bomb.outcome, bomb.error) == ("error", REFUSED_XML)
    assert (good.outcome, good.recorded) == ("ok", 1)
    listed = (await media.client.get(f"/v1/feeds/{feeds['/bomb.xml']}", headers=COMMS)).json()
    assert listed["last_error"] == REFUSED_XML and listed["consecutive_failures"] == 1
    assert (await media.client.get("/readyz")).status_code == 200
