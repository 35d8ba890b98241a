"""Events about a mention, built from its stored row so every event carries the same, complete picture."""

from __future__ import annotations

from typing import Any, TypeVar

from komerbij.contracts.events.media import MentionEvent, MentionFeatured, MentionUpdated
from komerbij.media.adapters.store import Row
from komerbij.media.domain.places import provinces_of

E = TypeVar("E", bound=MentionEvent)


def mention_event(cls: type[E], row: Row, **extra: Any) -> E:
    values: dict[str, Any] = {
        "mention_id": str(row["id"]),
        "title": row["title"],
        "url": row["url"],
        "outlet_id": str(row["outlet_id"]),
        "outlet_name": row["outlet_name"],
        "medium": row["medium"],
        "scope": row["scope"],
        "published_at": row["published_at"],
        "municipalities": list(row["municipalities"]),
        "provinces": provinces_of(list(row["municipalities"]), row["outlet_province"], row["outlet_municipality"]),
        "original_id": str(row["original_id"]) if row["original_id"] else None,
        "reach": row["effective_reach"],
    }
    if cls is MentionUpdated:
        values.update(sentiment=row["sentiment"], tags=list(row["tags"]), featured=row["featured"])
    if cls is MentionFeatured:
        values["featured"] = row["featured"]
    values.update(extra)
    return cls(**values)
