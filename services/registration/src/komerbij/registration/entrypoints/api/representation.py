"""How activities and sign-ups look in JSON responses (times in Europe/Amsterdam, with offset)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from komerbij.registration.domain.activity import CATEGORIES, Activity
from komerbij.registration.domain.edit import HeldEdit, difference
from komerbij.registration.domain.edition import AMSTERDAM
from komerbij.registration.domain.signup import Signup
from komerbij.registration.service import access
from komerbij.registration.service.activities import as_fields
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


def manages(principal: Principal | None, a: Activity) -> bool:
    """Who sees the back-office fields: the owning organisation, admins and moderators."""
    return access.owns(principal, a) or (principal is not None and principal.role == "moderator")


def edit_json(a: Activity, e: HeldEdit) -> dict[str, Any]:
    """A held edit: while pending, per field the approved and the proposed value; once decided, how and why."""
    body: dict[str, Any] = {"id": e.id, "status": e.status, "fields": list(e.fields),
                            "proposed_at": local(e.proposed_at), "decided_at": local(e.decided_at),
                            "reason": e.reason}
    if e.status == "pending":
        body["changes"] = difference(as_fields(a), e.fields)
    return body


def activity_json(a: Activity, base_url: str, principal: Principal | None = None,
                  held_edit: HeldEdit | None = None) -> dict[str, Any]:
    """The approved version, which is what the public sees. For those who manage it, also the back-office fields
    and its latest held edit (`held_edit`: pending, or how it was decided; null when there never was one)."""
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
        "full": places_left == 0, "max_party_size": a.max_party_size, "price_eur": a.price_eur, "free": a.free,
        "accessibility": a.accessibility,
        "contact": vars(a.contact), "kom_erbij": a.kom_erbij,
        "url": activity_url(base_url, a.id), "ics_url": activity_url(base_url, a.id) + ".ics",
    }
    if manages(principal, a):
        body.update(reject_reason=a.reject_reason, seats_taken=taken, owner_municipality=a.owner_municipality,
                    owner_partner=a.owner_partner, owner_organisation=a.owner_organisation,
                    created_at=local(a.created_at), updated_at=local(a.updated_at),
                    published_at=local(a.published_at),
                    held_edit=None if held_edit is None else edit_json(a, held_edit))
    return body


def participant_json(s: Signup) -> dict[str, Any]:
    return {"id": s.id, "name": s.name, "email": s.email, "phone": s.phone, "party_size": s.party_size,
            "status": s.status, "signed_up_at": local(s.created_at)}
