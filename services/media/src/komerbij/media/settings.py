"""Settings of the media service (environment variables; see the README's configuration table)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from pydantic import Field

from komerbij.media.domain.relevance import DEFAULT_TERMS

if TYPE_CHECKING:
    from komerbij.runtime.service import Runtime
from komerbij.runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    public_base_url: str = "http://127.0.0.1:8003"
    pages_base_url: str | None = Field(
        None, description="The front door's address for people: the nieuwsflits links to its archive page and to "
        "activities with it; unset, PUBLIC_BASE_URL"
    )
    consumer_group: str = Field("media", description="Kafka consumer group of the event handlers (the agenda and "
                                "the nieuwsflits' delivery progress)")
    media_campaign_terms: str = Field(
        "|".join(DEFAULT_TERMS), description="Campaign terms that make a feed item relevant, separated by |"
    )
    media_feed_timeout_seconds: float = Field(10.0, gt=0, description="Time budget of one feed request")
    media_feed_max_backoff_seconds: int = Field(
        6 * 3600, ge=1, description="Longest wait before retrying a failing feed"
    )
    media_feed_concurrency: int = Field(8, ge=1, description="Feeds fetched at the same time")
    media_feed_min_interval_seconds: int = Field(60, ge=1, description="Shortest polling interval a feed may ask for")
    media_syndication_window_hours: int = Field(72, ge=1, description="How far apart copies of one piece may appear")

    @property
    def pages_base(self) -> str:
        return (self.pages_base_url or self.public_base_url).rstrip("/")


def settings_of(rt: Runtime) -> Settings:
    """The running service's settings with this service's own fields typed."""
    return cast(Settings, rt.settings)
