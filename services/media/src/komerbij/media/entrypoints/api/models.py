"""What the media API accepts. Everything here is comms work: reads and writes alike need the `comms` role (or `admin`).

Coverage and mention lists are not public: they hold the team's judgements (sentiment, newsletter picks) and the
reach estimates it bought from vendors, so reads are protected like writes.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from komerbij.media.domain.mentions import MAX_TAG_LENGTH, MAX_TAGS, Medium, Scope, Sentiment
from komerbij.media.domain.monitoring_export import AMSTERDAM
from komerbij.media.domain.urls import InvalidUrl, canonical_url
from komerbij.runtime.auth import Principal, require
from komerbij.runtime.reference import municipality, provinces

Comms = Annotated[Principal, require("comms")]
MAX_IMPORT_BYTES = 10 * 1024 * 1024


def _http_url(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        canonical_url(value)
    except InvalidUrl:
        raise ValueError("geen geldige http(s)-link") from None
    return value.strip()


class OutletIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    medium: Medium
    scope: Scope
    province: str | None = None
    municipality: str | None = None
    reach: int | None = Field(None, ge=0)
    reach_source: str | None = Field(None, max_length=500)
    reach_date: date | None = None

    @field_validator("province")
    @classmethod
    def _known_province(cls, v: str | None) -> str | None:
        if v is not None and v not in provinces():
            raise ValueError(f"onbekende provincie; een van {', '.join(provinces())}")
        return v

    @field_validator("municipality")
    @classmethod
    def _known_municipality(cls, v: str | None) -> str | None:
        if v is not None and municipality(v) is None:
            raise ValueError("onbekende gemeentecode (CBS, bijvoorbeeld GM0363)")
        return v


class FeedIn(BaseModel):
    outlet_id: uuid.UUID
    url: str = Field(max_length=2000)
    interval_seconds: int = Field(900, le=7 * 24 * 3600)

    _url = field_validator("url")(_http_url)


class MentionIn(BaseModel):
    outlet_id: uuid.UUID
    published_at: datetime = Field(description="A date alone (print edition, broadcast day) means that day")
    title: str = Field(min_length=1, max_length=500)
    programme: str | None = Field(None, max_length=300, description="Programme (TV/radio) or page (print)")
    url: str | None = Field(None, max_length=2000)
    note: str | None = Field(None, max_length=2000)
    summary: str | None = Field(None, max_length=5000)
    reach: int | None = Field(None, ge=0, description="Overrides the outlet's reach estimate for this item")
    sentiment: Sentiment | None = None
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)

    _url = field_validator("url")(_http_url)

    @field_validator("published_at", mode="before")
    @classmethod
    def _day_or_moment(cls, v: object) -> object:
        # One type, not `datetime | date`: a union would name its members in the error's field path.
        if isinstance(v, str) and len(v.strip()) == 10:
            try:
                return datetime.combine(date.fromisoformat(v.strip()), time(), AMSTERDAM)
            except ValueError:
                return v
        return v

    @field_validator("published_at")
    @classmethod
    def _dutch_time_when_naive(cls, v: datetime) -> datetime:
        return v if v.tzinfo else v.replace(tzinfo=AMSTERDAM)


class MentionPatch(BaseModel):
    sentiment: Sentiment | None = None
    tags: list[Annotated[str, Field(max_length=MAX_TAG_LENGTH)]] = Field(default_factory=list, max_length=MAX_TAGS)
    featured: bool = False
    municipalities: list[str] = Field(default_factory=list, max_length=50)
