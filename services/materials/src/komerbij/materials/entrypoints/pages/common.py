"""What materials' pages share: the templates, Dutch words for statuses, dates and numbers, the status timeline of an
order and the carriers' track-and-trace links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from komerbij.materials.domain.catalog import Sku
from komerbij.materials.domain.orders import STATUS_NL, KitOrder, Status, UnknownOrder
from komerbij.runtime import web
from komerbij.runtime.auth import Principal
from komerbij.runtime.reference import dutch_date
from komerbij.runtime.reference import municipality as known_municipality

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

# The words the organiser and the warehouse read (the timeline: geplaatst → bevestigd → in behandeling →
# verzonden → geleverd); the API keeps its English status names.
STATUS_LABELS: dict[str, str] = dict(STATUS_NL)
# utrecht-status-badge variants (colours in komerbij.css, each at AA contrast)
STATUS_BADGES: dict[str, str] = {
    "placed": "neutral", "confirmed": "active", "rejected": "danger", "picking": "warning", "shipped": "safe",
    "delivered": "success", "cancelled": "inactive",
}


def moment(value: datetime) -> str:
    """"27 november 2026, 14:05": a moment in Dutch, on Amsterdam's clock."""
    local = value.astimezone(AMSTERDAM)
    return f"{dutch_date(local.date())}, {local:%H:%M}"


def number(value: int) -> str:
    """1975 → "1.975", as Dutch readers group thousands."""
    return f"{value:,}".replace(",", ".")


def municipality_name(code: str) -> str:
    found = known_municipality(code)
    return found.name if found else code


def short_id(order_id: str) -> str:
    """The first block of the UUID: what people read out on the phone; the page links with the whole id."""
    return order_id.split("-", 1)[0].upper()


def make_pages() -> web.Pages:
    pages = web.Pages("komerbij.materials")
    pages.env.filters.update(moment=moment, number=number, municipality_name=municipality_name, short_id=short_id)
    pages.env.globals.update(status_labels=STATUS_LABELS, status_badges=STATUS_BADGES)
    return pages


pages = make_pages()


def own_municipality(who: Principal) -> str | None:
    """The municipality an organiser orders for; None for partners (and admins), who have none."""
    code = who.municipality
    return code if code and known_municipality(code) is not None else None


def check_visible(who: Principal, order: KitOrder) -> None:
    """As the API: an organiser of another organisation gets "not found", so order numbers of others do not leak."""
    if who.role == "organiser" and order.municipality != who.municipality:
        raise UnknownOrder(order.id)


def not_found() -> web.PageError:
    return web.PageError(404, "Bestelling niet gevonden",
                         "Deze bestelling bestaat niet, of hoort bij een andere organisatie.")


# Carriers whose public tracking page takes the code in its address. Only a link: nothing is fetched from there.
_TRACKING_PAGES: dict[str, str] = {
    "postnl": "https://jouw.postnl.nl/track-and-trace/{code}-NL-{postcode}",
    "dhl": "https://www.dhl.com/nl-nl/home/tracking/tracking-parcel.html?submit=1&tracking-id={code}",
    "dpd": "https://www.dpd.com/nl/nl/ontvangen/track-en-trace/?parcelNumber={code}",
    "gls": "https://gls-group.com/NL/nl/volg-je-pakket?match={code}",
    "ups": "https://www.ups.com/track?loc=nl_NL&tracknum={code}",
}
CARRIERS = ("PostNL", "DHL", "DPD", "GLS", "UPS")


def tracking_url(carrier: str | None, code: str | None, postcode: str) -> str | None:
    if not carrier or not code:
        return None
    template = _TRACKING_PAGES.get(carrier.strip().lower().replace(" ", ""))
    if template is None:
        return None
    return template.format(code=quote(code.strip(), safe=""), postcode=quote(postcode.replace(" ", ""), safe=""))


@dataclass(frozen=True)
class Step:
    status: Status
    label: str
    state: str  # "done", "current" or "todo"
    at: datetime | None
    explanation: str


_PATH: tuple[Status, ...] = ("placed", "confirmed", "picking", "shipped", "delivered")
_EXPLANATIONS: dict[str, str] = {
    "placed": "Uw bestelling is binnengekomen.",
    "confirmed": "De artikelen zijn voor u gereserveerd.",
    "picking": "Het magazijn pakt uw bestelling in.",
    "shipped": "Uw pakket is onderweg.",
    "delivered": "Het pakket is afgeleverd.",
    "cancelled": "De bestelling is geannuleerd; de artikelen gaan terug naar het magazijn.",
}


def timeline(order: KitOrder, history: dict[str, datetime]) -> list[Step]:
    """The steps of the order's life so far and to come. A rejected order stops after placement, a cancelled one
    after confirmation; the normal path runs to delivery."""
    if order.status == "rejected":
        path: tuple[Status, ...] = ("placed", "rejected")
    elif order.status == "cancelled":
        path = ("placed", "confirmed", "cancelled")
    else:
        path = _PATH
    reached = path.index(order.status) if order.status in path else 0
    steps = []
    for i, status in enumerate(path):
        state = "done" if i < reached else "current" if i == reached else "todo"
        explanation = (order.reason_message or "") if status == "rejected" else _EXPLANATIONS[status]
        steps.append(Step(status, STATUS_LABELS[status], state, history.get(status) if state != "todo" else None,
                          explanation))
    return steps


def items_summary(order: KitOrder, catalog: dict[str, Sku]) -> list[tuple[int, str, str]]:
    """(quantity, name, unit) per line, in the catalog's order."""
    positions = {sku: i for i, sku in enumerate(catalog)}
    lines = sorted(order.lines, key=lambda li: positions.get(li.sku, len(positions)))
    return [(li.quantity, catalog[li.sku].name if li.sku in catalog else li.sku,
             catalog[li.sku].unit if li.sku in catalog else "") for li in lines]


def parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None
