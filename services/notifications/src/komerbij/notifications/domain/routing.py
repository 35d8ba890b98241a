"""Who hears about an event: subscribed partners by place, the organiser, the participant, the orderer, the admins.

Pure: it takes the consumed event (a contracts model) and answers with an `Audience`; the service layer turns that
into delivery rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from komerbij.contracts.events.base import Event
from komerbij.contracts.events.materials import OrderEvent, StockLow
from komerbij.contracts.events.media import MentionRecorded
from komerbij.contracts.events.registration import ActivityCancelled, ActivityPublished, SignupEvent, cancel_token
from komerbij.runtime import reference

# What a partner never receives about a sign-up: the participant's ways to be reached, and their cancel link.
PARTICIPANT_ONLY_FIELDS = frozenset({"email", "phone", "cancel_url"})


@dataclass(frozen=True)
class DirectMail:
    """A transactional mail to one person, no subscription needed (and no unsubscribe link)."""

    recipient: str  # stable key for the exactly-once constraint; never the address itself
    address: str | None  # None: resolved when sending (the admins come from configuration)


@dataclass(frozen=True)
class Audience:
    kind: str  # which template family renders it
    municipalities: set[str] = field(default_factory=set)
    provinces: set[str] = field(default_factory=set)
    by_place: bool = False  # subscribed partners whose place filter matches
    owner_partner_id: str | None = None  # the organiser, if subscribed
    owner_municipality: str | None = None
    direct: tuple[DirectMail, ...] = ()


@lru_cache(maxsize=1024)  # 342 municipalities; a consumer asks once per event (issue 19's profile: ~5 % of its CPU)
def _province_of(code: str | None) -> str | None:
    found = reference.municipality(code) if code else None
    return found.province if found else None


def _places(codes: list[str | None], provinces: list[str | None]) -> tuple[set[str], set[str]]:
    municipalities = {c for c in codes if c}
    found = {p for p in provinces if p} | {p for p in map(_province_of, municipalities) if p}
    return municipalities, found


def audience_of(event: Event) -> Audience | None:
    """None for events nobody is told about (e.g. a mention of no municipality or province)."""
    if isinstance(event, ActivityPublished | ActivityCancelled):
        municipalities, provinces = _places([event.municipality], [event.province])
        return Audience("activity", municipalities, provinces, by_place=True)
    if isinstance(event, MentionRecorded):
        municipalities, provinces = _places(list(event.municipalities), list(event.provinces))
        if not municipalities and not provinces:
            return None
        return Audience("mention", municipalities, provinces, by_place=True)
    if isinstance(event, SignupEvent):
        municipalities, provinces = _places([event.municipality or event.owner_municipality], [])
        direct = (DirectMail("participant", event.email),) if event.email else ()
        return Audience(
            "signup", municipalities, provinces, owner_partner_id=event.owner_partner_id,
            owner_municipality=event.owner_municipality, direct=direct,
        )
    if isinstance(event, OrderEvent):
        direct = (DirectMail("orderer", event.contact_email),) if event.contact_email else ()
        return Audience("order", direct=direct) if direct else None
    if isinstance(event, StockLow):
        return Audience("stock", direct=(DirectMail("admins", None),))
    return None


def partner_view(event: Event) -> dict[str, object]:
    """The event data a partner may see: sign-ups lose the participant's contact details and cancel link."""
    data = event.model_dump(mode="json")
    if isinstance(event, SignupEvent):
        return {k: v for k, v in data.items() if k not in PARTICIPANT_ONLY_FIELDS}
    return data


def participant_view(data: dict[str, object], cancel_link_key: str) -> dict[str, object]:
    """The event data for the participant's own mail: the cancel link gets its token only here, as the mail is
    written (registration's events carry the link without it; see `contracts...registration.cancel_token`). A link
    that already has one (an event from before) is left as it is."""
    url = str(data.get("cancel_url") or "")
    if not url or "token=" in url:
        return data
    token = cancel_token(cancel_link_key, str(data["signup_id"]))
    return {**data, "cancel_url": f"{url}{'&' if '?' in url else '?'}token={token}"}
