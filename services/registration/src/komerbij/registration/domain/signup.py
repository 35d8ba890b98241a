"""A sign-up: one party (a person, perhaps with company) for one activity, without an account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

SignupStatus = Literal["confirmed", "waitlisted", "cancelled"]


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
