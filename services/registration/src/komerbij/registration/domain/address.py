"""Dutch addresses: postcodes (`1234 AB`) and the house number that, with the postcode, identifies a venue."""

from __future__ import annotations

import re

# Four digits without a leading zero, two letters; PostNL never issues SA, SD and SS.
_POSTCODE = re.compile(r"^\s*([1-9][0-9]{3})\s?([A-Za-z]{2})\s*$")
_UNUSED_LETTERS = {"SA", "SD", "SS"}
# The house number is the first number after the street name, with an optional letter or addition (12, 12a, 12-3).
_HOUSE_NUMBER = re.compile(r"\s(\d+)(?:\s*([A-Za-z]{1,2})|\s*-\s*([A-Za-z0-9]{1,4}))?\s*$")


def normalize_postcode(raw: str) -> str:
    """`1015kk` and `1015 KK` are the same postcode; we store the written form `1015 KK`."""
    match = _POSTCODE.match(raw)
    if not match or match.group(2).upper() in _UNUSED_LETTERS:
        raise ValueError("geen geldige postcode; schrijf die als 1234 AB")
    return f"{match.group(1)} {match.group(2).upper()}"


def house_number(street: str) -> str | None:
    """`Lindengracht 12` → `12`, `Dorpsstraat 3 A` → `3a`, `Kerkstraat 2-4` → `2-4`; None without a number."""
    match = _HOUSE_NUMBER.search(" " + street.strip())
    if not match:
        return None
    number, letter, addition = match.groups()
    if letter:
        return number + letter.lower()
    return f"{number}-{addition.lower()}" if addition else number
