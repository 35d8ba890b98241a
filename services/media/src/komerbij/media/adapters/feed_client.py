"""Fetching and parsing RSS 2.0 / Atom feeds: httpx for conditional GET, feedparser for the formats' many dialects.

A feed costs one small request when nothing changed: the ETag and Last-Modified of the last answer go back as
If-None-Match and If-Modified-Since, and a 304 ends the poll. Every failure (HTTP error, timeout, a body that is not
a feed, an address that is not public) comes back as a `FeedError` with a short, log-safe description (never the
raw connection error, which would tell what listens where), never as an exception to the caller.

A feed is someone else's XML: before feedparser sees it, defusedxml refuses entity declarations and external
references (one entity referenced a thousand times made feedparser's lenient fallback parser build a string of
hundreds of megabytes). A body the strict parser cannot read reaches feedparser's lenient parser only when it
declares no entity either. What is kept of an item is cut to size before anything else is done with it.
"""

from __future__ import annotations

import asyncio
import calendar
import html
import re
import xml.sax
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import defusedxml
import defusedxml.sax
import feedparser
import httpx
from feedparser.encodings import convert_to_utf8

from komerbij.runtime.outbound import OutboundRefused

USER_AGENT = "komerbij-media/1.0 (+https://www.eentegeneenzaamheid.nl)"
MAX_FEED_BYTES = 5 * 1024 * 1024
# A lead is enough to judge relevance, places and copies; whole articles are the outlet's, not ours to keep.
MAX_SUMMARY_CHARS = 1000
MAX_TITLE_CHARS = 500  # as a mention's title (MentionIn)
MAX_LINK_CHARS = 2000
MAX_ITEMS = 1000  # news feeds carry tens; more is not a feed we need all of
_RAW_TEXT_FACTOR = 20  # markup and entities shrink when stripped; more raw text than this is never needed
_TAG = re.compile(r"<[^>]+>")
_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)
REFUSED_XML = "feed refused: it declares XML entities or external references"


@dataclass(frozen=True)
class FeedItem:
    title: str
    summary: str
    link: str | None
    published_at: datetime | None


@dataclass(frozen=True)
class Fetched:
    items: list[FeedItem]
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True)
class NotModified:
    pass


@dataclass(frozen=True)
class FeedError:
    error: str


FetchResult = Fetched | NotModified | FeedError


def plain_text(fragment: str) -> str:
    """Feed summaries are HTML fragments; mentions keep their text only."""
    return " ".join(html.unescape(_TAG.sub(" ", fragment)).split())


def _text(raw: str, limit: int) -> str:
    return plain_text(raw[: limit * _RAW_TEXT_FACTOR])[:limit]


def _summary(entry: Any) -> str:
    """The item's lead; Atom feeds sometimes carry only `content`, of which the opening is enough."""
    if entry.get("summary"):
        return entry["summary"]
    content = entry.get("content") or [{}]
    return content[0].get("value", "")


def _link(entry: Any) -> str | None:
    link = entry.get("link") or None
    return link if link and len(link) <= MAX_LINK_CHARS else None


def xml_refusal(content: bytes, headers: dict[str, str]) -> FeedError | None:
    """A FeedError for XML that declares entities or refers outside itself; None for anything else."""
    try:
        # A DOCTYPE naming an external DTD (RSS 0.91's Netscape one) is fine: Python's parser never loads it, and
        # every entity declaration, internal or external, is refused.
        defusedxml.sax.parseString(content, xml.sax.ContentHandler(), forbid_dtd=False, forbid_entities=True,
                                   forbid_external=False)
    except (defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden, defusedxml.DTDForbidden):
        return FeedError(REFUSED_XML)
    except xml.sax.SAXException:
        # Not well-formed: feedparser would fall back to its lenient parser, which expands what the document
        # declares. Look at the text as feedparser would decode it.
        if _ENTITY_DECLARATION.search(convert_to_utf8(headers, content, {})):
            return FeedError(REFUSED_XML)
    return None


def _published(entry: Any) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC) if parsed else None


def parse_feed(content: bytes, content_type: str | None = None) -> list[FeedItem] | FeedError:
    headers = {"content-type": content_type} if content_type else {}
    refused = xml_refusal(content, headers)
    if refused is not None:
        return refused
    parsed = feedparser.parse(content, response_headers=headers)
    if parsed.bozo and not parsed.entries:
        reason = type(parsed.get("bozo_exception")).__name__
        return FeedError(f"malformed feed: {reason}")
    if not parsed.entries and not parsed.get("version"):
        return FeedError("not an RSS or Atom feed")
    return [
        FeedItem(
            title=_text(e.get("title", ""), MAX_TITLE_CHARS),
            summary=_text(_summary(e), MAX_SUMMARY_CHARS),
            link=_link(e),
            published_at=_published(e),
        )
        for e in parsed.entries[:MAX_ITEMS]
    ]


async def fetch_feed(
    client: httpx.AsyncClient, url: str, *, etag: str | None, last_modified: str | None, timeout: float
) -> FetchResult:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        # The whole exchange, not just each socket read, must end within the feed's time budget.
        async with asyncio.timeout(timeout):
            async with client.stream("GET", url, headers=headers, timeout=timeout) as response:
                if response.status_code == 304:
                    return NotModified()
                if response.status_code >= 400:
                    return FeedError(f"HTTP {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_FEED_BYTES:
                        return FeedError("feed larger than 5 MB")
                content_type = response.headers.get("content-type")
                new_etag = response.headers.get("etag")
                new_last_modified = response.headers.get("last-modified")
    except TimeoutError:
        return FeedError(f"timeout after {timeout:g} s")
    except httpx.TimeoutException:
        return FeedError(f"timeout after {timeout:g} s")
    except OutboundRefused as exc:
        return FeedError(f"refused: {exc}")
    except httpx.HTTPError as exc:
        return FeedError(f"{type(exc).__name__}")
    items = await asyncio.to_thread(parse_feed, bytes(body), content_type)
    if isinstance(items, FeedError):
        return items
    return Fetched(items, new_etag, new_last_modified)
