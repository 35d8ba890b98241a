"""Each kind of link a mail carries opens a page (HTML), never JSON, at the service the front door sends it to.

test_mail_links proves which links each mail carries, through real Kafka and SMTP; this one proves those links
arrive somewhere: the path's owner in the front door's address plan (deploy/frontdoor/routes.yaml, longest prefix
wins, "/" for what no other prefix claims) must have a GET route for it that answers HTML. The pages belong to other
services, so a renamed page (say /bestellingen/{id} → /bestelling/{id}) fails here instead of in people's inboxes.

Mails are rendered by notifications' own `compose`, in this process, for every template (no infrastructure needed).
"""

from __future__ import annotations

import importlib
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from starlette.routing import Match

from komerbij.notifications.adapters.mail import compose
from komerbij.notifications.domain.links import Links

from .mail_links import links_of

ROOT = Path(__file__).resolve().parents[2]
PAGES = "https://www.komerbij.test"
PUBLIC = "http://notifications.test"  # notifications' PUBLIC_BASE_URL: its one-click unsubscribe link
REGISTRATION = "https://agenda.example.nl"  # registration's PUBLIC_BASE_URL, in the cancel link its events carry
ARTICLE = "https://www.omroepbrabant.example/nieuws/samen-eten"  # a press mention's article: not ours
ACTIVITY, SIGNUP, MENTION, ORDER = "3f0a3c52-5d1e-4a55-9d0e-2f1d4b1e7a10", "9b2f6c1e-0c1d-4e7a-8f5b-1a2b3c4d5e6f", \
    "5e8d7c6b-4a3f-4e2d-9c1b-0a9f8e7d6c5b", "ORD-2026-0042"
WHEN = datetime(2026, 10, 1, 12, tzinfo=UTC)


def page_prefixes() -> dict[str, str]:
    """Page prefix → the service that owns it, from the front door's one source of truth."""
    plan = yaml.safe_load((ROOT / "deploy/frontdoor/routes.yaml").read_text())
    return {prefix: service for service, prefixes in plan["pages"].items() for prefix in prefixes}


def owner_of(path: str) -> str:
    prefixes = page_prefixes()
    claims = [p for p in prefixes if p != "/" and (path == p or path.startswith(p.rstrip("/") + "/"))]
    return prefixes[max(claims, key=len)] if claims else prefixes["/"]


def html_route(service: str, path: str) -> APIRoute | None:
    """The service's GET route that takes `path`, when it answers HTML (its response class), else None."""
    spec = importlib.import_module(f"komerbij.{service}.app").SPEC
    scope = {"type": "http", "method": "GET", "path": path, "root_path": ""}
    for router in spec.routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.matches(scope)[0] is Match.FULL:
                answers = getattr(route.response_class, "value", route.response_class)  # FastAPI's default: JSON
                return route if isinstance(answers, type) and issubclass(answers, HTMLResponse) else None
    return None


def links(composed: Any) -> set[str]:
    text, html = links_of(message_from_bytes(composed.as_bytes(), policy=policy.default))  # type: ignore[arg-type]
    return text | html


ACTIVITY_DATA = {"activity_id": ACTIVITY, "title": "Eettafel", "category": "eettafel", "starts_at": WHEN.isoformat(),
                 "ends_at": WHEN.isoformat(), "municipality": "GM0855", "online": False,
                 "venue": {"name": "Wijkcentrum", "street": "Hoofdstraat 1", "postcode": "5011 AA", "city": "Tilburg"}}
SIGNUP_DATA = {"signup_id": SIGNUP, "activity_id": ACTIVITY, "activity_title": "Koffie", "name": "Mila",
               "email": "mila@voorbeeld.example", "party_size": 1, "starts_at": WHEN.isoformat(),
               "ends_at": WHEN.isoformat(), "location": "Wijkcentrum, Tilburg", "waitlist_position": 2,
               "cancel_url": f"{REGISTRATION}/v1/signups/{SIGNUP}/cancel?token=abc"}
ORDER_DATA = {"order_id": ORDER, "municipality": "GM0855", "organisation": "Welzijn Tilburg", "lines": [],
              "carrier": "PostNL", "tracking_code": "3SABC123", "reason": "out_of_stock"}
MAILS: list[tuple[str, str, dict[str, Any], bool]] = [
    ("activity", "ActivityPublished", ACTIVITY_DATA, True),
    ("activity", "ActivityCancelled", ACTIVITY_DATA, True),
    ("mention", "MentionRecorded", {"mention_id": MENTION, "title": "Tilburg eet samen", "url": ARTICLE,
                                    "outlet_name": "Omroep Brabant", "medium": "tv",
                                    "published_at": WHEN.isoformat()}, True),
    *[("signup", name, SIGNUP_DATA, partner) for name in ("SignupConfirmed", "SignupWaitlisted", "SignupPromoted",
                                                          "SignupCancelled", "SignupActivityChanged")
      for partner in (False, True) if not (partner and name == "SignupActivityChanged")],
    *[("order", name, ORDER_DATA, False) for name in ("OrderPlaced", "OrderConfirmed", "OrderRejected",
                                                      "OrderShipped", "OrderDelivered", "OrderCancelled")],
    ("stock", "StockLow", {"sku": "PLACEMAT", "name": "Placemat", "stock_on_hand": 4, "reserved": 2,
                           "threshold": 50}, False),
    ("digest", "Digest", {"day": date(2026, 10, 1).isoformat(), "items": [
        {"label": "Nieuwe activiteit", "title": "Eettafel", "when": WHEN.isoformat(),
         "page": f"/agenda/{ACTIVITY}"},
        {"label": "In de media", "title": "Tilburg eet samen", "when": None,
         "page": f"/media/vermeldingen/{MENTION}"}]}, True),
    ("webhook_disabled", "WebhookDisabled", {"url": "https://hooks.tilburg.example/komerbij",
                                             "failing_since": WHEN.isoformat()}, True),
]


@pytest.mark.parametrize(("kind", "event_name", "data", "partner"), MAILS,
                         ids=[f"{m[1]}{'-partner' if m[3] else ''}" for m in MAILS])
def test_every_link_in_the_mail_opens_a_page(kind: str, event_name: str, data: dict[str, Any],
                                             partner: bool) -> None:
    unsubscribe = f"{PUBLIC}/unsubscribe/tok.en" if partner else None
    message = compose(kind=kind, event_name=event_name, data=dict(data), to="iemand@voorbeeld.example",
                      greeting_name="Mila", message_id="<1@komerbij.test>", sender="meldingen@komerbij.test",
                      unsubscribe_url=unsubscribe, partner=partner,
                      links=Links(PAGES, preferences_token="tok.en" if partner else None), stamp=WHEN)
    found = links(message)
    for link in found - {ARTICLE, data.get("url")}:
        url = urlsplit(link)
        service = "notifications" if link == unsubscribe else "registration" if link == data.get(
            "cancel_url") else owner_of(url.path)
        assert link.startswith((PAGES + "/", PUBLIC + "/", REGISTRATION + "/")), (event_name, link)
        assert html_route(service, url.path) is not None, f"{event_name}: {link} is no page of {service}"
    if partner:
        assert f"{PAGES}/voorkeuren/tok.en" in found, "every mail to a contact links to their preferences page"


@pytest.mark.parametrize(("path", "service"), [
    (f"/agenda/{ACTIVITY}", "registration"), (f"/bestellingen/{ORDER}", "materials"),
    (f"/media/vermeldingen/{MENTION}", "media"), ("/voorkeuren/tok.en", "notifications"),
])
def test_the_front_door_sends_each_linked_page_to_the_service_that_renders_it(path: str, service: str) -> None:
    assert owner_of(path) == service
    assert html_route(service, path) is not None, f"{service} renders no page at {path}"


def test_a_json_route_is_not_taken_for_a_page() -> None:
    """The check above can fail: an API route of the same service is JSON, and so is refused."""
    assert html_route("notifications", "/v1/partners") is None
    assert owner_of("/v1/activities/x") == "registration" and html_route("registration", "/v1/activities/x") is None
