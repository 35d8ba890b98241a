"""Parsing feed bodies (feedparser behind our adapter): what counts as a feed, a lead, a broken feed."""

from __future__ import annotations

from datetime import UTC, datetime

from komerbij.media.adapters.feed_client import FeedError, parse_feed

from .feed_server import atom, rss


def test_rss_items_become_plain_text_with_utc_dates() -> None:
    items = parse_feed(rss(("Kom erbij &amp; doe mee", "https://a.test/1", "<p>Koffie in <b>Best</b></p>",
                            "Thu, 30 Sep 2027 09:00:00 +0200")))
    assert not isinstance(items, FeedError)
    assert [(i.title, i.summary, i.link, i.published_at) for i in items] == [
        ("Kom erbij & doe mee", "Koffie in Best", "https://a.test/1", datetime(2027, 9, 30, 7, tzinfo=UTC))]


def test_atom_without_summary_takes_its_content_as_lead() -> None:
    body = atom(("Week tegen Eenzaamheid", "https://a.test/2", "", "2027-09-30T10:00:00+02:00")).replace(
        b"<summary></summary>", b'<content type="html">&lt;p&gt;Eettafel in Goes&lt;/p&gt;</content>')
    items = parse_feed(body)
    assert not isinstance(items, FeedError)
    assert [i.summary for i in items] == ["Eettafel in Goes"]


def test_broken_xml_without_items_is_an_error_but_an_empty_feed_is_not() -> None:
    broken = parse_feed(b'<?xml version="1.0"?><rss version="2.0"><channel><title>X</chan')
    assert isinstance(broken, FeedError) and broken.error.startswith("malformed feed")
    assert isinstance(parse_feed(b"<html><body>Niet gevonden</body>"), FeedError)
    assert parse_feed(rss()) == []
