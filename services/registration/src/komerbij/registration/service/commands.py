"""What clients send, validated field by field (a failing field becomes a 422 naming it, in Dutch)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, StringConstraints, field_validator

from komerbij.registration.domain.activity import (
    ACCESSIBILITY,
    CATEGORIES,
    DEFAULT_MAX_PARTY_SIZE,
    MAX_PARTY_SIZE,
    TARGET_GROUPS,
)
from komerbij.registration.domain.address import normalize_postcode
from komerbij.registration.domain.edition import AMSTERDAM
from komerbij.registration.domain.signup import check_name
from komerbij.runtime import reference

_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")  # , ; < > would name a second recipient
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{7,20}$")


def _email(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not _EMAIL.match(value) or len(value) > 254:
        raise ValueError("geen geldig e-mailadres")
    return value


def _phone(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    digits = sum(c.isdigit() for c in value)
    if not _PHONE.match(value) or not 9 <= digits <= 15:
        raise ValueError("geen geldig telefoonnummer")
    return value


def _amsterdam(value: datetime) -> datetime:
    """Times without an offset are meant as Dutch local time."""
    return value.replace(tzinfo=AMSTERDAM) if value.tzinfo is None else value


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Email = Annotated[str | None, AfterValidator(_email)]
Phone = Annotated[str | None, AfterValidator(_phone)]
LocalTime = Annotated[datetime, AfterValidator(_amsterdam)]
Category = Literal[tuple(CATEGORIES)]  # type: ignore[valid-type]
TargetGroup = Literal[tuple(TARGET_GROUPS)]  # type: ignore[valid-type]
Accessibility = Literal[tuple(ACCESSIBILITY)]  # type: ignore[valid-type]


class VenueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[Text, Field(max_length=200)]
    street: Annotated[Text, Field(max_length=200, description="Street and house number, e.g. `Lindengracht 12`")]
    postcode: Annotated[str, AfterValidator(normalize_postcode), Field(examples=["1015 KK"])]
    city: Annotated[Text, Field(max_length=100)]


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[Text, Field(max_length=200)]
    email: Email = None
    phone: Phone = None


class ActivityFields(BaseModel):
    """A complete activity as an organiser describes it (POST, and PATCH after merging the changes)."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[Text, Field(max_length=200)]
    description: Annotated[Text, Field(max_length=5000)]
    category: Category
    starts_at: LocalTime
    ends_at: LocalTime
    venue: VenueIn | None = None
    online_url: HttpUrl | None = None
    phone: Phone = None
    municipality: str | None = Field(None, description="CBS code (GM + 4 digits); null = national/online")
    target_groups: list[TargetGroup] = Field(min_length=1)
    capacity: int | None = Field(None, ge=1, le=100_000, description="None = unlimited")
    max_party_size: int = Field(DEFAULT_MAX_PARTY_SIZE, ge=1, le=MAX_PARTY_SIZE,
                                description="Most people one sign-up may bring (the participant included)")
    price_eur: float = Field(0, ge=0, le=10_000)
    accessibility: list[Accessibility] = Field(default_factory=list)
    contact: ContactIn
    kom_erbij: bool = False

    @field_validator("target_groups", "accessibility")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


PATCHABLE = tuple(ActivityFields.model_fields)


class Rejection(BaseModel):
    reason: Annotated[Text, Field(max_length=2000)]


class Cancellation(BaseModel):
    """Calling an activity off; the message goes to everyone signed up or waiting, in the mail that tells them."""

    model_config = ConfigDict(extra="forbid")

    message: Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=1000)] = None


class SignupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[Text, Field(max_length=100), AfterValidator(check_name)]
    email: Email = None
    phone: Phone = None
    party_size: int = Field(1, ge=1, le=MAX_PARTY_SIZE, description="At most the activity's `max_party_size`")
    consent: bool


class EditionRequest(BaseModel):
    year: int = Field(ge=2010, le=2100)
    starts_on: date
    ends_on: date


def _organisation(value: str) -> str:
    """A municipality by CBS code, or a national partner as `partner:<id>` (as `Principal.organisation` names it)."""
    if value.startswith("partner:") and value.removeprefix("partner:").strip():
        return value
    if reference.municipality(value) is None:
        raise ValueError("geef een CBS-code (bv. GM0363) of partner:<id> van een landelijke partner")
    return value


class TrustRequest(BaseModel):
    organisation: Annotated[str, AfterValidator(_organisation), Field(
        examples=["GM0363", "partner:zonnebloem"], description="The organisation the person is trusted to act for")]
    note: str | None = Field(None, max_length=500)
