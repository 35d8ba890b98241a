"""Syndicated copies: one press-agency piece printed by several outlets is one article with copies.

Two mentions are copies of each other when their titles are near-identical and so are the opening words of their
leads (feeds cut leads at different lengths, so only the common opening is compared). Mentions without a lead
(TV, radio, most manual entries) are never grouped: a title alone is too thin to call two broadcasts one story.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from komerbij.runtime.reference import fold

TITLE_MIN_RATIO = 0.9
LEAD_MIN_RATIO = 0.85
LEAD_CHARS = 200
_NON_WORD = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class Story:
    title: str
    lead: str


def normalise(text: str) -> str:
    return _NON_WORD.sub(" ", fold(text)).strip()


def _ratio(a: str, b: str) -> float:
    if a == b:
        return 1.0
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return matcher.ratio() if matcher.real_quick_ratio() >= TITLE_MIN_RATIO * 0.9 else 0.0


def is_copy(a: Story, b: Story) -> bool:
    la, lb = normalise(a.lead), normalise(b.lead)
    if not la or not lb:
        return False
    n = min(len(la), len(lb), LEAD_CHARS)
    titles_match = _ratio(normalise(a.title), normalise(b.title)) >= TITLE_MIN_RATIO
    return titles_match and _ratio(la[:n], lb[:n]) >= LEAD_MIN_RATIO
