"""Use cases of activities: submit, edit, cancel, moderate. One transaction each; events go through the outbox."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError

from komerbij.contracts.events import registration as ev
from komerbij.registration.adapters import activities as repo
from komerbij.registration.adapters import editions, signups, trust
from komerbij.registration.domain.activity import (
    Activity,
    Contact,
    Status,
    Venue,
    check_contact,
    check_schedule,
    check_transition,
    check_whereabouts,
)
from komerbij.registration.domain.edition import AMSTERDAM, check_within_week
from komerbij.registration.service import access, seating
from komerbij.registration.service.commands import PATCHABLE, ActivityFields
from komerbij.registration.service.outgoing import activity_event, signup_event
from komerbij.registration.service.problems import as_problem, invalid
from komerbij.runtime import reference
from komerbij.runtime.auth import Principal
from komerbij.runtime.http import validation_problem
from komerbij.runtime.service import Runtime, UnitOfWork


async def _checked(uow: UnitOfWork, principal: Principal, f: ActivityFields) -> dict[str, Any]:
    """The rules that span fields or need data: where, when (within the week), municipality, contact."""
    venue = Venue(**f.venue.model_dump()) if f.venue else None
    contact = Contact(**f.contact.model_dump())
    online_url = str(f.online_url) if f.online_url else None
    with as_problem():
        check_schedule(f.starts_at, f.ends_at)
        check_whereabouts(venue, online_url, f.phone)
        check_contact(contact)
        municipality = access.municipality_for(principal, f.municipality)
        year = f.starts_at.astimezone(AMSTERDAM).year
        check_within_week(await editions.get(uow.conn, year), year, f.starts_at)
    place = reference.municipality(municipality) if municipality else None
    return {
        "edition_year": year, "title": f.title, "description": f.description, "category": f.category,
        "starts_at": f.starts_at, "ends_at": f.ends_at, "venue": venue, "online_url": online_url, "phone": f.phone,
        "municipality": municipality, "province": place.province if place else None,
        "target_groups": f.target_groups, "capacity": f.capacity, "price_eur": f.price_eur,
        "accessibility": f.accessibility, "contact": contact, "kom_erbij": f.kom_erbij,
    }


async def submit(rt: Runtime, principal: Principal, f: ActivityFields) -> Activity:
    base = rt.settings.public_base_url
    async with rt.uow() as uow:
        fields = await _checked(uow, principal, f)
        trusted = principal.is_admin or await trust.is_trusted(uow.conn, principal.subject)
        a = Activity(
            id=str(uuid.uuid4()), status="published" if trusted else "submitted", owner_subject=principal.subject,
            owner_municipality=principal.municipality, owner_partner=principal.partner, **fields,
        )
        await repo.insert(uow.conn, a)
        a = await repo.get(uow.conn, a.id)
        assert a is not None
        await uow.emit(activity_event(ev.ActivitySubmitted, a, base))
        if trusted:
            await uow.emit(activity_event(ev.ActivityPublished, a, base))
    return a


async def view(rt: Runtime, principal: Principal | None, activity_id: str) -> Activity:
    async with rt.pool.acquire() as conn:
        a = await repo.get(conn, activity_id)
    if a is None or not access.can_see(principal, a):
        raise access.not_found()
    return a


def _as_fields(a: Activity) -> dict[str, Any]:
    return {
        "title": a.title, "description": a.description, "category": a.category,
        "starts_at": a.starts_at.astimezone(AMSTERDAM), "ends_at": a.ends_at.astimezone(AMSTERDAM),
        "venue": None if a.venue is None else vars(a.venue).copy(), "online_url": a.online_url, "phone": a.phone,
        "municipality": a.municipality, "target_groups": a.target_groups, "capacity": a.capacity,
        "price_eur": a.price_eur, "accessibility": a.accessibility, "contact": vars(a.contact).copy(),
        "kom_erbij": a.kom_erbij,
    }


async def edit(rt: Runtime, principal: Principal, activity_id: str, changes: dict[str, Any]) -> Activity:
    """Owners change what they like; the result is checked as a whole. A rejected activity that is edited goes back
    to the moderation queue. More places move people up from the waitlist; fewer than already taken is refused."""
    unknown = sorted(set(changes) - set(PATCHABLE))
    if unknown:
        raise invalid(unknown[0], "dit veld bestaat niet of kan niet gewijzigd worden")
    base = rt.settings.public_base_url
    async with rt.uow() as uow:
        a = await repo.get(uow.conn, activity_id, lock=True)
        if a is None:
            raise access.not_found()
        access.require_owner(principal, a)
        if a.status == "cancelled":
            with as_problem():
                check_transition(a.status, "submitted")
        before = _as_fields(a)
        try:
            merged = ActivityFields.model_validate({**before, **changes})
        except ValidationError as exc:
            raise validation_problem(exc.errors()) from None
        fields = await _checked(uow, principal, merged)
        seats = a.seats_taken
        if fields["capacity"] is not None and fields["capacity"] < seats:
            raise invalid("capacity", f"er zijn al {seats} plaatsen bezet; de capaciteit kan niet lager")
        changed = [k for k in PATCHABLE if _as_fields(_replace(a, fields))[k] != before[k]]
        resubmitted = a.status == "rejected"
        if not changed and not resubmitted:
            return a  # nothing to tell anyone
        status: Status = "submitted" if resubmitted else a.status
        updated = _replace(a, fields, status=status, reject_reason=None if resubmitted else a.reject_reason)
        await repo.save(uow.conn, updated)
        fresh = await repo.get(uow.conn, a.id)
        assert fresh is not None
        await uow.emit(activity_event(ev.ActivityUpdated, fresh, base, changed_fields=changed))
        if resubmitted:
            await uow.emit(activity_event(ev.ActivitySubmitted, fresh, base))
        await seating.fill_free_seats(uow, fresh, base)
        fresh = await repo.get(uow.conn, a.id)
    assert fresh is not None
    return fresh


def _replace(a: Activity, fields: dict[str, Any], **more: Any) -> Activity:
    data = {**vars(a), **fields, **more}
    return Activity(**data)


async def cancel(rt: Runtime, principal: Principal, activity_id: str) -> Activity:
    """The activity is called off: its participants' sign-ups end with it (they hear so through the events)."""
    base = rt.settings.public_base_url
    async with rt.uow() as uow:
        a = await repo.get(uow.conn, activity_id, lock=True)
        if a is None:
            raise access.not_found()
        access.require_owner(principal, a)
        with as_problem():
            check_transition(a.status, "cancelled")
        await repo.save(uow.conn, _replace(a, {}, status="cancelled"))
        fresh = await repo.get(uow.conn, a.id)
        assert fresh is not None
        await uow.emit(activity_event(ev.ActivityCancelled, fresh, base))
        for s in await signups.active_of(uow.conn, a.id):
            await uow.emit(signup_event(ev.SignupCancelled, s, fresh, base, None, reason="activity_cancelled"))
            await signups.cancel(uow.conn, s.id)
    return fresh


async def publish(rt: Runtime, activity_id: str) -> Activity:
    return await _moderate(rt, activity_id, "published", None)


async def reject(rt: Runtime, activity_id: str, reason: str) -> Activity:
    return await _moderate(rt, activity_id, "rejected", reason)


async def _moderate(rt: Runtime, activity_id: str, target: Status, reason: str | None) -> Activity:
    base = rt.settings.public_base_url
    async with rt.uow() as uow:
        a = await repo.get(uow.conn, activity_id, lock=True)
        if a is None:
            raise access.not_found()
        with as_problem():
            check_transition(a.status, target)
        await repo.save(uow.conn, _replace(a, {}, status=target, reject_reason=reason))
        fresh = await repo.get(uow.conn, a.id)
        assert fresh is not None
        if target == "published":
            await uow.emit(activity_event(ev.ActivityPublished, fresh, base))
        else:
            await uow.emit(activity_event(ev.ActivityRejected, fresh, base, reason=reason or ""))
    return fresh
