"""Valid request bodies and short-cuts for the registration tests."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from support.services import RunningService, auth

ORGANISER_A = {"role": "organiser", "municipality": "GM0363", "subject": "org-amsterdam"}
ORGANISER_B = {"role": "organiser", "municipality": "GM0518", "subject": "org-den-haag"}
PARTNER = {"role": "organiser", "partner": "partner-zonnebloem", "subject": "partner-zonnebloem"}

BASE: dict[str, Any] = {
    "title": "Samen koken", "description": "Samen een maaltijd bereiden en eten.", "category": "eettafel",
    "starts_at": "2027-10-01T14:00:00+02:00", "ends_at": "2027-10-01T16:00:00+02:00",
    "venue": {"name": "Buurtkamer De Linde", "street": "Lindengracht 12", "postcode": "1015 KK", "city": "Amsterdam"},
    "online_url": None, "phone": None, "municipality": "GM0363", "target_groups": ["ouderen"],
    "capacity": 10, "price_eur": 0, "accessibility": ["wheelchair"],
    "contact": {"name": "Welzijn West", "email": "info@example.org", "phone": "0201234567"}, "kom_erbij": True,
}


def headers(who: dict[str, str]) -> dict[str, str]:
    return auth(**who)


def activity(**overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(BASE)
    # A venue of its own per activity, so tests do not see each other's clashes unless they mean to.
    body["venue"]["street"] = f"Lindengracht {uuid.uuid4().int % 9000 + 100}"
    body.update(overrides)
    return body


async def submit(svc: RunningService, who: dict[str, str] = ORGANISER_A, **overrides: Any) -> str:
    r = await svc.client.post("/v1/activities", json=activity(**overrides), headers=headers(who))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def published(svc: RunningService, who: dict[str, str] = ORGANISER_A, **overrides: Any) -> str:
    activity_id = await submit(svc, who, **overrides)
    r = await svc.client.post(f"/v1/activities/{activity_id}/publish", headers=auth("moderator"))
    assert r.status_code == 200, r.text
    return activity_id


async def sign_up(svc: RunningService, activity_id: str, name: str = "Truus", party_size: int = 1,
                  email: str | None = None) -> dict[str, Any]:
    r = await svc.client.post(
        f"/v1/activities/{activity_id}/signups",
        json={"name": name, "email": email or f"{name.lower()}@example.org", "phone": None, "party_size": party_size,
              "consent": True},
    )
    assert r.status_code == 201, r.text
    return r.json()


async def cancel_signup(svc: RunningService, signup: dict[str, Any]) -> dict[str, Any]:
    r = await svc.client.post(f"/v1/signups/{signup['id']}/cancel", params={"token": signup["cancel_token"]})
    assert r.status_code == 200, r.text
    return r.json()


async def participants(svc: RunningService, activity_id: str, who: dict[str, str] = ORGANISER_A) -> list[dict]:
    r = await svc.client.get(f"/v1/activities/{activity_id}/signups", headers=headers(who))
    assert r.status_code == 200, r.text
    return r.json()["items"]
