"""Where a mail's links lead: the pages people use at the front door, never a JSON route of an API.

The pages belong to other services (registration's activity page, materials' order page, media's mention page);
their paths are part of the site's address plan (deploy/frontdoor/routes.yaml), so a link is made from the id an
event carries and the front door's address (PAGES_BASE_URL), without asking anybody.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote


def _segment(value: object) -> str:
    return quote(str(value), safe="")


def activity_path(activity_id: str) -> str:
    return f"/agenda/{_segment(activity_id)}"


def order_path(order_id: str) -> str:
    return f"/bestellingen/{_segment(order_id)}"


def mention_path(mention_id: str) -> str:
    return f"/media/vermeldingen/{_segment(mention_id)}"


def preferences_path(token: str) -> str:
    return f"/voorkeuren/{token}"


def page_of(data: Mapping[str, object]) -> str | None:
    """The page an event is about, from the ids it carries: an order, a mention, or an activity (sign-ups included)."""
    if data.get("order_id"):
        return order_path(str(data["order_id"]))
    if data.get("mention_id"):
        return mention_path(str(data["mention_id"]))
    if data.get("activity_id"):
        return activity_path(str(data["activity_id"]))
    return None


@dataclass(frozen=True)
class Links:
    """The links of one mail: pages at `base` (the front door) and, for a partner's contact, their preferences."""

    base: str
    preferences_token: str | None = None

    def page(self, path: str | None) -> str | None:
        return f"{self.base.rstrip('/')}{path}" if path else None

    @property
    def preferences(self) -> str | None:
        return self.page(preferences_path(self.preferences_token)) if self.preferences_token else None
