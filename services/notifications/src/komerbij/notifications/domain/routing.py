"""Who hears about an event: subscribed partners by place, the organiser, the participant, the orderer, the admins.

Pure: it takes the consumed event (a contracts model) and answers with an `Audience`; the service layer turns that
into delivery rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import cast

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
    municipalities, found = _frozen_places(tuple(codes), tuple(provinces))
    return set(municipalities), set(found)


@lru_cache(maxsize=4096)  # a consumer asks this per event, mostly for one municipality (issue 19's profile: ~7 %)
def _frozen_places(codes: tuple[str | None, ...],
                   provinces: tuple[str | None, ...]) -> tuple[frozenset[str], frozenset[str]]:
    municipalities = {c for c in codes if c}
    found = {p for p in provinces if p} | {p for p in map(_province_of, municipalities) if p}
    return frozenset(municipalities), frozenset(found)


@cache
def _family(cls: type[Event]) -> str | None:
    """Which branch of `audience_of` an event class takes: found once per class, since `isinstance` against pydantic
    models goes through ABCMeta's Python-level check (~3 % of a consumer's CPU, five checks per event)."""
    for family, classes in (("activity", (ActivityPublished, ActivityCancelled)), ("mention", (MentionRecorded,)),
                            ("signup", (SignupEvent,)), ("order", (OrderEvent,)), ("stock", (StockLow,))):
        if issubclass(cls, classes):
            return family
    return None


def audience_of(event: Event) -> Audience | None:
    """None for events nobody is told about (e.g. a mention of no municipality or province)."""
    family = _family(type(event))
    if family == "activity":
        activity = cast(ActivityPublished | ActivityCancelled, event)
        municipalities, provinces = _places([activity.municipality], [activity.province])
        return Audience("activity", municipalities, provinces, by_place=True)
    if family == "mention":
        mention = cast(MentionRecorded, event)
        municipalities, provinces = _places(list(mention.municipalities), list(mention.provinces))
        if not municipalities and not provinces:
            return None
        return Audience("mention", municipalities, provinces, by_place=True)
    if family == "signup":
        signup = cast(SignupEvent, event)
        municipalities, provinces = _places([signup.municipality or signup.owner_municipality], [])
        direct = (DirectMail("participant", signup.email),) if signup.email else ()
        return Audience(
            "signup", municipalities, provinces, owner_partner_id=signup.owner_partner_id,
            owner_municipality=signup.owner_municipality, direct=direct,
        )
    if family == "order":
        order = cast(OrderEvent, event)
        direct = (DirectMail("orderer", order.contact_email),) if order.contact_email else ()
        return Audience("order", direct=direct) if direct else None
    if family == "stock":
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
