"""Places and the waitlist: who gets in, who waits, and who moves up when places come free.

Pure arithmetic over seats, so the rules can be tested without a database; the service applies them while it holds
the activity's row lock, which is what makes them hold under concurrent sign-ups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Placement = Literal["confirmed", "waitlisted"]


@dataclass(frozen=True)
class Waiting:
    signup_id: str
    party_size: int


def free_seats(capacity: int | None, seats_taken: int) -> int | None:
    """None means unlimited."""
    return None if capacity is None else max(capacity - seats_taken, 0)


def place(capacity: int | None, seats_taken: int, party_size: int) -> Placement:
    """A party gets in whole or waits whole: a group that came together is never split."""
    free = free_seats(capacity, seats_taken)
    return "confirmed" if free is None or party_size <= free else "waitlisted"


def promote(capacity: int | None, seats_taken: int, waiting: Iterable[Waiting]) -> list[Waiting]:
    """Fill freed seats from the waitlist in order; a party too large for the seats left is skipped (it keeps its
    place in the queue), so a smaller party behind it can take a single free seat."""
    free = free_seats(capacity, seats_taken)
    promoted: list[Waiting] = []
    for entry in waiting:
        if free is not None and free <= 0:
            break
        if free is None or entry.party_size <= free:
            promoted.append(entry)
            if free is not None:
                free -= entry.party_size
    return promoted
