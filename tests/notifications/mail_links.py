"""The links in a mail, in its plain text and in its HTML, for the tests that check every link opens a page."""

from __future__ import annotations

import re
from email.message import EmailMessage
from html.parser import HTMLParser


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [v for k, v in attrs if k in ("href", "src") and v]


def links_of(message: EmailMessage) -> tuple[set[str], set[str]]:
    """(links in the plain text, links in the HTML) of a mail."""
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    parser = _Hrefs()
    parser.feed(message.get_body(("html",)).get_content())  # type: ignore[union-attr]
    return set(re.findall(r"https?://[^\s<>\"']+", text)), set(parser.hrefs)
