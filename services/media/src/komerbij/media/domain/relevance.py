"""Is a feed item about the week? Campaign terms matched case- and accent-insensitively in title and summary.

Phrases match as whole words with any run of spaces or hyphens between their words, so "Week tegen eenzaamheid",
"week-tegen-eenzaamheid" and "WEEK TEGEN EENZAAMHEID" all count; hashtags match as written (folded).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from komerbij.runtime.reference import fold

DEFAULT_TERMS: tuple[str, ...] = (
    "Week tegen Eenzaamheid",
    "Kom erbij",
    "Eén tegen eenzaamheid",
    "#eenkleingebaar",
    "#WeekTegenEenzaamheid",
)


def _pattern(term: str) -> str:
    words = [re.escape(w) for w in re.split(r"[\s\-]+", fold(term).strip()) if w]
    return r"(?<![\w#])" + r"[\s\-]+".join(words) + r"(?!\w)"


@dataclass(frozen=True)
class CampaignTerms:
    terms: tuple[str, ...] = DEFAULT_TERMS
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.terms:
            raise ValueError("at least one campaign term is needed")
        object.__setattr__(self, "_regex", re.compile("|".join(_pattern(t) for t in self.terms)))

    @classmethod
    def parse(cls, setting: str) -> CampaignTerms:
        """From the `MEDIA_CAMPAIGN_TERMS` setting: terms separated by `|`."""
        return cls(tuple(t.strip() for t in setting.split("|") if t.strip()))

    def matches(self, *texts: Iterable[str] | str | None) -> bool:
        return any(self._regex.search(fold(t)) for t in texts if isinstance(t, str) and t)
