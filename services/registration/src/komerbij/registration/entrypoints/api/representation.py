"""How activities and sign-ups look in JSON responses (times in Europe/Amsterdam, with offset)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from komerbij.registration.domain.activity import CATEGORIES, Activity
from komerbij.registration.domain.edition import AMSTERDAM
from komerbij.registration.domain.signup import Signup
from komerbij.registration.service import access
from komerbij.registration.service.outgoing import activity_url
from komerbij.runtime import reference
from komerbij.runtime.auth import Principal
from komerbij.runtime.http import ProblemError


def local(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(AMSTERDAM).isoformat()


def checked_id(value: str, what: str = "activity") -> str:
    """Ids are UUIDs; anything else simply does not exist."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ProblemError(404, "Niet gevonden", f"No such {what}.") from None


def activity_json(a: Activity, base_url: str, principal: Principal | None = None) -> dict[str, Any]:
    place = reference.municipality(a.municipality) if a.municipality else None
    taken = a.seats_taken
    places_left = None if a.capacity is None else max(a.capacity - taken, 0)
    body: dict[str, Any] = {
        "id": a.id, "status": a.status, "edition_year": a.edition_year, "title": a.title,
        "description": a.description, "category": a.category, "category_label": CATEGORIES.get(a.category),
        "starts_at": local(a.starts_at), "ends_at": local(a.ends_at),
        "venue": None if a.venue is None else vars(a.venue), "online_url": a.online_url, "phone": a.phone,
        "online": a.online, "location": a.location, "municipality": a.municipality,
        "municipality_name": place.name if place else None, "province": a.province, "national": a.municipality is None,
        "target_groups": a.target_groups, "capacity": a.capacity, "places_left": places_left,
        "full": places_left == 0, "price_eur": a.price_eur, "free": a.free, "accessibility": a.accessibility,
        "contact": vars(a.contact), "kom_erbij": a.kom_erbij,
        "url": activity_url(base_url, a.id), "ics_url": activity_url(base_url, a.id) + ".ics",
    }
    if access.owns(principal, a) or (principal is not None and principal.role == "moderator"):
        body.update(reject_reason=a.reject_reason, seats_taken=taken, owner_municipality=a.owner_municipality,
                    owner_partner=a.owner_partner, created_at=local(a.created_at), updated_at=local(a.updated_at),
                    published_at=local(a.published_at))
    return body


def participant_json(s: Signup) -> dict[str, Any]:
    return {"id": s.id, "name": s.name, "email": s.email, "phone": s.phone, "party_size": s.party_size,
            "status": s.status, "signed_up_at": local(s.created_at)}
