"""Delivery address and contact rules: a Dutch postcode, a reachable e-mail address, a plausible phone number."""

from __future__ import annotations

import re

_POSTCODE = re.compile(r"^([1-9][0-9]{3})\s?([A-Z]{2})$")
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")  # , ; < > would name a second recipient
_PHONE = re.compile(r"^\+?[0-9]{9,15}$")


def normalise_postcode(value: str) -> str:
    """'1011pn' → '1011 PN'. PostNL never issues the letter pairs SA, SD and SS."""
    match = _POSTCODE.match(value.strip().upper())
    if not match or match.group(2) in {"SA", "SD", "SS"}:
        raise ValueError("Geen geldige Nederlandse postcode (bijvoorbeeld 1011 PN).")
    return f"{match.group(1)} {match.group(2)}"


def normalise_email(value: str) -> str:
    value = value.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("Geen geldig e-mailadres.")
    return value


def normalise_phone(value: str) -> str:
    """Keeps digits and a leading plus; spaces, dashes and brackets are how people write numbers, not errors."""
    compact = re.sub(r"[\s\-().]", "", value)
    if not _PHONE.match(compact):
        raise ValueError("Geen geldig telefoonnummer.")
    return compact
