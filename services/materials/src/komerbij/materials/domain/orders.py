"""Kit orders: what a well-formed order is, why one is refused, and which status may follow which.

Two kinds of "no", on purpose:
- a request that breaks a rule of the catalog itself (unknown SKU, a SKU twice, more than the per-order maximum) is
  never an order: `RuleViolation`, answered 422 naming the field;
- a well-formed order the programme cannot honour right now (window closed, quota used up, out of stock) is recorded
  as `rejected` with its reason, so the organiser, the programme team and the notifications service can see it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from komerbij.materials.domain.catalog import Sku
from komerbij.materials.domain.edition import Edition
from komerbij.runtime.reference import dutch_date

Status = Literal["placed", "confirmed", "rejected", "picking", "shipped", "delivered", "cancelled"]
Reason = Literal["out_of_stock", "quota_exceeded", "window_closed"]
STATUSES: tuple[Status, ...] = ("placed", "confirmed", "rejected", "picking", "shipped", "delivered", "cancelled")
HOLDS_STOCK: tuple[Status, ...] = ("confirmed", "picking")
CLOSED: tuple[Status, ...] = ("rejected", "cancelled", "delivered")
# placed → confirmed | rejected happens inside placement; these are the moves that come later.
TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    "confirmed": frozenset({"picking", "cancelled"}),
    "picking": frozenset({"shipped"}),
    "shipped": frozenset({"delivered"}),
}
# The words of the pages' status timeline (issue 16): geplaatst → bevestigd → in behandeling → verzonden → geleverd.
STATUS_NL: Mapping[Status, str] = {
    "placed": "geplaatst", "confirmed": "bevestigd", "rejected": "afgewezen", "picking": "in behandeling",
    "shipped": "verzonden", "delivered": "geleverd", "cancelled": "geannuleerd",
}


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int


@dataclass(frozen=True)
class KitOrder:
    id: str
    municipality: str
    edition_year: int
    status: Status
    reason: Reason | None
    reason_message: str | None
    lines: tuple[Line, ...]
    organisation: str
    attention: str | None
    street: str
    postcode: str
    city: str
    contact_email: str | None
    contact_phone: str | None
    wanted_by: date
    carrier: str | None
    tracking_code: str | None
    created_at: datetime
    updated_at: datetime


class RuleViolation(Exception):
    """The request itself breaks a catalog rule; `field` is the dotted path of the offending input."""

    def __init__(self, field: str, message: str, title: str = "Ongeldige invoer") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.title = title


class TransitionNotAllowed(Exception):
    def __init__(self, current: Status, target: str) -> None:  # target may be any word a client sent
        super().__init__(f"an order that is {current} cannot become {target}")
        self.current = current
        self.target = target

    @property
    def message_nl(self) -> str:
        target_nl = dict(STATUS_NL).get(self.target, self.target)
        if self.target == "cancelled" and self.current in ("picking", "shipped", "delivered"):
            return "Annuleren kan niet meer: de bestelling is al in behandeling bij het magazijn of verzonden."
        return f"Een bestelling die {STATUS_NL[self.current]} is, kan niet {target_nl} worden."


def check_transition(current: Status, target: str) -> None:
    if target not in TRANSITIONS.get(current, frozenset()):
        raise TransitionNotAllowed(current, target)


def check_lines(lines: Sequence[Line], catalog: Mapping[str, Sku]) -> None:
    seen: set[str] = set()
    for i, line in enumerate(lines):
        item = catalog.get(line.sku)
        if item is None:
            raise RuleViolation(f"lines.{i}.sku", f"Onbekend artikel '{line.sku}'.")
        if line.sku in seen:
            raise RuleViolation(f"lines.{i}.sku", "Dit artikel staat al op een eerdere regel; tel de aantallen op.")
        seen.add(line.sku)
        if line.quantity > item.max_per_order:
            raise RuleViolation(
                f"lines.{i}.quantity",
                f"Per bestelling kunt u maximaal {item.max_per_order} × {item.name} ({item.unit}) bestellen.",
                title="Te veel besteld",
            )


def check_shipping(target: str, carrier: str | None, tracking_code: str | None) -> None:
    if target != "shipped":
        return
    if not (carrier or "").strip():
        raise RuleViolation("carrier", "Vul de vervoerder in (bijvoorbeeld PostNL).")
    if not (tracking_code or "").strip():
        raise RuleViolation("tracking_code", "Vul de track-and-tracecode in.")


def window_closed_message(edition: Edition) -> str:
    return (f"De bestelperiode voor de Week tegen Eenzaamheid {edition.year} is gesloten sinds "
            f"{dutch_date(edition.window_closes)}; de week begint op {dutch_date(edition.starts)}.")


def quota_message(item: Sku, edition_year: int, used: int) -> str:
    left = max(item.quota_per_municipality - used, 0)
    return (f"Uw gemeente heeft voor de Week tegen Eenzaamheid {edition_year} al {used} van de "
            f"{item.quota_per_municipality} × {item.name} besteld die per gemeente mogelijk zijn; "
            f"er kunnen er nog {left} bij.")


def out_of_stock_message(item: Sku) -> str:
    return f"Er is op dit moment niet genoeg voorraad van {item.name} om deze bestelling te leveren."


class UnknownOrder(LookupError):
    pass


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before for a different request."""
