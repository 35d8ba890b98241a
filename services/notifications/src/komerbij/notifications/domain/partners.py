"""Partners and their subscriptions: who wants to hear what, and the rules a request must satisfy."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

Kind = Literal["municipality", "national_partner", "local_coalition", "welfare"]
Sector = Literal[
    "cultuur", "media", "zorg en welzijn", "sport", "bedrijven", "kennis", "publiek", "levensbeschouwelijk",
    "koepels", "fondsen",
]
Mode = Literal["immediate", "digest"]
KINDS: tuple[str, ...] = get_args(Kind)
SECTORS: tuple[str, ...] = get_args(Sector)
MODES: tuple[str, ...] = get_args(Mode)


class PartnerRuleError(ValueError):
    """A request that is well-formed but breaks a partner rule; `field` names the input to correct."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_partner(kind: str, sector: str | None, municipality: str | None, known_municipality: bool) -> None:
    """Only national partners belong to a coalition sector; a municipality partner is its CBS code."""
    if sector is not None and kind != "national_partner":
        raise PartnerRuleError("sector", "alleen een nationale partner heeft een sector")
    if kind == "municipality":
        if municipality is None:
            raise PartnerRuleError("municipality", "een gemeente heeft een CBS-code nodig (GM + 4 cijfers)")
        if not known_municipality:
            raise PartnerRuleError("municipality", "onbekende CBS-code")


@dataclass(frozen=True)
class Subscription:
    partner_id: str
    event_types: tuple[str, ...]
    municipalities: tuple[str, ...]
    provinces: tuple[str, ...]
    mode: Mode

    def matches(self, event_type: str, municipalities: set[str], provinces: set[str]) -> bool:
        """No place filter means "everywhere" (a national partner); otherwise the event must be in one of them."""
        if event_type not in self.event_types:
            return False
        if not self.municipalities and not self.provinces:
            return True
        return bool(municipalities & set(self.municipalities)) or bool(provinces & set(self.provinces))


class NotFound(LookupError):
    """The named object does not exist (→ 404)."""


class Conflict(ValueError):
    """The request clashes with what exists (→ 409); `field` names the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


def check_email(address: str) -> None:
    if not _EMAIL.match(address):
        raise PartnerRuleError("email", "geen geldig e-mailadres")


# Events a partner can subscribe to; orders, mail to participants and stock alerts need no subscription.
# "NewsletterSent" is the nieuwsflits: every subscribed contact gets each edition, whatever the subscription's places.
SUBSCRIBABLE = ("ActivityPublished", "ActivityCancelled", "MentionRecorded", "SignupConfirmed", "SignupWaitlisted",
                "SignupPromoted", "SignupCancelled", "NewsletterSent")


def check_subscription(event_types: list[str], municipalities: list[str], provinces: list[str],
                       known_municipalities: set[str], known_provinces: set[str]) -> None:
    if not event_types:
        raise PartnerRuleError("event_types", "kies minstens één soort melding")
    for i, name in enumerate(event_types):
        if name not in SUBSCRIBABLE:
            choices = ", ".join(SUBSCRIBABLE)
            raise PartnerRuleError(f"event_types.{i}", f"onbekend of niet te volgen: kies uit {choices}")
    for i, code in enumerate(municipalities):
        if code not in known_municipalities:
            raise PartnerRuleError(f"municipalities.{i}", "onbekende CBS-code")
    for i, name in enumerate(provinces):
        if name not in known_provinces:
            raise PartnerRuleError(f"provinces.{i}", "onbekende provincie")
