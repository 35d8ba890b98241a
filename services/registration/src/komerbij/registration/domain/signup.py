"""A sign-up: one party (a person, perhaps with company) for one activity, without an account.

Sign-up is public, so its rules also keep it from being abused: one active sign-up per e-mail address and per phone
number for an activity (the keys below, enforced by unique indexes), a party no larger than the organiser allows,
and a name that cannot smuggle a link into the official confirmation mail.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from komerbij.registration.domain.violations import RuleViolation

SignupStatus = Literal["confirmed", "waitlisted", "cancelled"]
ACTIVE: tuple[SignupStatus, ...] = ("confirmed", "waitlisted")


@dataclass(frozen=True)
class Signup:
    id: str
    activity_id: str
    status: SignupStatus
    party_size: int
    # Contact details: None once the sign-up is cancelled or purged (30 days after the edition).
    name: str | None
    email: str | None
    phone: str | None
    token_hashes: list[bytes]  # SHA-256 of each cancel token handed out; never the tokens themselves
    created_at: datetime


def email_key(email: str | None) -> str | None:
    """What makes two addresses one mailbox for the one-sign-up rule: case, and a `+tag` most providers deliver to
    the same mailbox (`Truus+1@X.nl` is `truus@x.nl`). Migration 003 computes the same in SQL for older rows."""
    if not email:
        return None
    local, _, domain = email.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def phone_key(phone: str | None) -> str | None:
    """Digits only, international form folded onto the Dutch one: `+31 (0)6-1234 5678`, `0031 6 12345678` and
    `06 12345678` are one number. Migration 003 computes the same in SQL for older rows."""
    if not phone:
        return None
    written = phone.strip().replace("(0)", "")
    digits = ("00" if written.startswith("+") else "") + re.sub(r"\D", "", written)
    key = "0" + digits[4:] if digits.startswith("0031") else digits
    return key or None


# A name is letters (any script), digits, spaces and the punctuation names use; no `/`, `:`, `@`, so no URL or
# address, and no look-alike dots (`。`, `．`) that some mail programs turn into links.
_NAME_PUNCTUATION = set(" .,'’-&()")
# A host name such as `evil.example` or `www.x.nl`: labels joined by dots, ending in a label of two or more letters.
_HOST = re.compile(r"(?:[^\W_]|-)+(?:\.(?:[^\W_]|-)+)*\.[^\W\d_]{2,}\.?")
# Initials as people write them (`Ch.Ph.`, `Th.J.`): short capitalised labels, each closed by a dot.
_INITIALS = re.compile(r"(?:[^\W\d_][^\W\d_]{0,2}\.)+")


def check_name(name: str) -> str:
    """The participant's name is repeated in the mail sent to the address given: it must not carry a link there
    (a stranger could otherwise have the official mail deliver a text and URL of their choice)."""
    for char in name:
        if char not in _NAME_PUNCTUATION and unicodedata.category(char)[0] not in ("L", "M", "N"):
            raise RuleViolation("name", "gebruik alleen letters, cijfers, spaties en . , ' - & ( )")
    for word in name.split():
        word = word.strip(",()&'’")
        if _HOST.fullmatch(word) and not _is_initials(word):
            raise RuleViolation("name", "een naam mag geen link of webadres bevatten")
    return name


def _is_initials(word: str) -> bool:
    return bool(_INITIALS.fullmatch(word)) and all(
        (label[:1].isupper() and label[1:].islower()) or len(label) == 1 for label in word.split(".") if label
    )
