"""The vocabulary of mentions and outlets: media, scopes, sentiments, and how tags are kept tidy."""

from __future__ import annotations

from typing import Literal, get_args

Medium = Literal["tv", "radio", "print", "online", "social", "podcast"]
Scope = Literal["national", "regional", "local"]
Sentiment = Literal["positive", "neutral", "negative"]
Source = Literal["feed", "manual", "import"]

MEDIA: tuple[str, ...] = get_args(Medium)
SCOPES: tuple[str, ...] = get_args(Scope)
MAX_TAGS = 20
MAX_TAG_LENGTH = 40


def tidy_tags(tags: list[str]) -> list[str]:
    """Lower-case, trimmed, unique, in the order given: "Nieuwsbrief" and "nieuwsbrief " are one tag."""
    seen: list[str] = []
    for tag in tags:
        t = " ".join(tag.split()).lower()
        if t and t not in seen:
            seen.append(t)
    return seen
