"""Use cases of activities: submit, edit (held for review where it must be), cancel, moderate. One transaction each;
events go through the outbox.

Who may: the organisation that owns the activity (every organiser acting for it) and admins (`access`). What waits:
a change by an organiser who is not trusted to what the public reads of a published activity (`HELD_FIELDS`) is held
as a pending edit (`domain.edit`) and the activity keeps its approved version until a moderator approves; the rest
of the same change (capacity, party size, ...) goes live at once. Trusted organisers' and admins' edits go live.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError

from komerbij.contracts.events import registration as ev
from komerbij.registration.adapters import activities as repo
from komerbij.registration.adapters import editions, edits, signups, trust
from komerbij.registration.domain.activity import (
    HELD_FIELDS,
    TIME_AND_PLACE,
    Activity,
    Contact,
    Status,
    Venue,
    check_contact,
    check_schedule,
    check_transition,
    check_whereabouts,
)
from komerbij.registration.domain.edit import HeldEdit, held_part
from komerbij.registration.domain.edition import AMSTERDAM, check_within_week
from komerbij.registration.service import access, seating
from komerbij.registration.service.commands import PATCHABLE, ActivityFields
from komerbij.registration.service.outgoing import activity_event, signup_event
from komerbij.registration.service.problems import as_problem, invalid
from komerbij.registration.settings import settings_of
from komerbij.runtime import reference
from komerbij.runtime.auth import Principal
from komerbij.runtime.http import ProblemError, validation_problem
from komerbij.runtime.service import Runtime, UnitOfWork


async def _checked(uow: UnitOfWork, principal: Principal | None, f: ActivityFields) -> dict[str, Any]:
    """The rules that span fields or need data: where, when (within the week), municipality, contact. Without a
    principal (a moderator approving an edit) the municipality stays as it is: it is not a held field."""
    venue = Venue(**f.venue.model_dump()) if f.venue else None
    contact = Contact(**f.contact.model_dump())
    online_url = str(f.online_url) if f.online_url else None
    with as_problem():
        check_schedule(f.starts_at, f.ends_at)
        check_whereabouts(venue, online_url, f.phone)
        check_contact(contact)
        municipality = access.municipality_for(principal, f.municipality) if principal else f.municipality
        year = f.starts_at.astimezone(AMSTERDAM).year
        check_within_week(await editions.get(uow.conn, year), year, f.starts_at)
    place = reference.municipality(municipality) if municipality else None
    return {
        "edition_year": year, "title": f.title, "description": f.description, "category": f.category,
        "starts_at": f.starts_at, "ends_at": f.ends_at, "venue": venue, "online_url": online_url, "phone": f.phone,
        "municipality": municipality, "province": place.province if place else None,
        "target_groups": f.target_groups, "capacity": f.capacity, "price_eur": f.price_eur,
        "accessibility": f.accessibility, "contact": contact, "kom_erbij": f.kom_erbij,
        "max_party_size": f.max_party_size,
    }


async def _trusted(uow: UnitOfWork, principal: Principal) -> bool:
    return principal.is_admin or await trust.is_trusted(uow.conn, principal.organisation, principal.subject)


async def submit(rt: Runtime, principal: Principal, f: ActivityFields) -> Activity:
    base = rt.settings.public_base_url
    async with rt.uow() as uow:
        fields = await _checked(uow, principal, f)
        trusted = await _trusted(uow, principal)
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


async def latest_edits(rt: Runtime, activity_ids: list[str]) -> dict[str, HeldEdit]:
    """Each activity's latest held edit: waiting, or how the moderator decided (for the organisation's and
    moderators' eyes only)."""
    async with rt.pool.acquire() as conn:
        return await edits.latest_of(conn, activity_ids)


async def of_organisation(
    rt: Runtime, principal: Principal, organisation: str | None, status: str | None, page: int, page_size: int
) -> tuple[list[tuple[Activity, int]], int]:
    """"My organisation's activities": an organiser's own organisation; an admin's choice, or all."""
    if not principal.is_admin:
        own = access.organisation_of(principal)
        if organisation not in (None, own):
            raise ProblemError(403, "Geen toegang", "Organisers see the activities of their own organisation only.")
        organisation = own
    async with rt.pool.acquire() as conn:
        return await repo.of_organisation(conn, organisation, status, page_size, (page - 1) * page_size)


def as_fields(a: Activity) -> dict[str, Any]:
    """The activity as an organiser writes it (the API's input form, JSON-ready): what edits are compared in."""
    return {
        "title": a.title, "description": a.description, "category": a.category,
        "starts_at": a.starts_at.astimezone(AMSTERDAM).isoformat(),
        "ends_at": a.ends_at.astimezone(AMSTERDAM).isoformat(),
        "venue": None if a.venue is None else vars(a.venue).copy(), "online_url": a.online_url, "phone": a.phone,
        "municipality": a.municipality, "target_groups": a.target_groups, "capacity": a.capacity,
        "price_eur": a.price_eur, "accessibility": a.accessibility, "contact": vars(a.contact).copy(),
        "kom_erbij": a.kom_erbij, "max_party_size": a.max_party_size,
    }


def _merged(data: dict[str, Any]) -> ActivityFields:
    try:
        return ActivityFields.model_validate(data)
    except ValidationError as exc:
        raise validation_problem(exc.errors()) from None


async def edit(rt: Runtime, principal: Principal, activity_id: str, changes: dict[str, Any]) -> Activity:
    """The organisation changes what it likes; the result is checked as a whole. A rejected activity that is edited
    goes back to the moderation queue. More places move people up from the waitlist; fewer than already taken is
    refused. On a published activity, an untrusted organiser's change of held fields waits for a moderator."""
    unknown = sorted(set(changes) - set(PATCHABLE))
    if unknown:
        raise invalid(unknown[0], "dit veld bestaat niet of kan niet gewijzigd worden")
    settings = settings_of(rt)
    base = settings.public_base_url
    async with rt.uow() as uow:
        a = await repo.get(uow.conn, activity_id, lock=True)
        if a is None:
            raise access.not_found()
        access.require_owner(principal, a)
        if a.status == "cancelled":
            with as_problem():
                check_transition(a.status, "submitted")
        approved = as_fields(a)
        pending = (await edits.pending_of(uow.conn, [a.id])).get(a.id)
        held = a.status == "published" and not await _trusted(uow, principal)
        # What the organisation wants now: for a held edit, what it proposed before still stands unless changed.
        wanted = {**approved, **(pending.fields if held and pending else {}), **changes}
        fields = await _checked(uow, principal, _merged(wanted))
        seats = a.seats_taken
        if fields["capacity"] is not None and fields["capacity"] < seats:
            raise invalid("capacity", f"er zijn al {seats} plaatsen bezet; de capaciteit kan niet lager")
        intended = _replace(a, fields)
        if held:
            proposal = held_part(approved, as_fields(intended))
            live = _replace(intended, {k: getattr(a, k) for k in (*HELD_FIELDS, "edition_year")})
        else:
            proposal = None
            live = intended
        changed = [k for k in PATCHABLE if as_fields(live)[k] != approved[k]]
        resubmitted = a.status == "rejected"
        if changed or resubmitted:
            status: Status = "submitted" if resubmitted else a.status
            await repo.save(uow.conn, _replace(live, {}, status=status,
                                               reject_reason=None if resubmitted else a.reject_reason))
            fresh = await repo.get(uow.conn, a.id)
            assert fresh is not None
            await uow.emit(activity_event(ev.ActivityUpdated, fresh, base, changed_fields=changed))
            if resubmitted:
                await uow.emit(activity_event(ev.ActivitySubmitted, fresh, base))
            if fresh.status == "published":
                await _tell_participants(uow, fresh, changed, base)
            await seating.fill_free_seats(uow, fresh, base, settings.cancel_link_key)
        if proposal is not None:
            await _hold(uow, a.id, pending, proposal, principal)
        elif pending is not None and set(changed) & set(pending.fields):
            # A trusted word on a field settles it: the pending proposal for that field is dropped.
            await _hold(uow, a.id, pending, {k: v for k, v in pending.fields.items() if k not in changed}, principal)
        fresh = await repo.get(uow.conn, a.id)
    assert fresh is not None
    return fresh


async def _hold(uow: UnitOfWork, activity_id: str, pending: HeldEdit | None, proposal: dict[str, Any],
                principal: Principal) -> None:
    """Make `proposal` the activity's pending edit: a new one (a changed proposal gets a new id, so a moderator
    approves exactly what they saw), none when it is empty, unchanged when it is the same."""
    if pending is not None and pending.fields == proposal:
        return
    if proposal:
        await edits.propose(uow.conn, activity_id, proposal, principal.subject)
    elif pending is not None:
        await edits.close_pending(uow.conn, activity_id, "withdrawn", principal.subject)


async def _tell_participants(uow: UnitOfWork, a: Activity, changed: list[str], base: str) -> None:
    """A new time or place (approved) is news for everyone signed up or waiting: one event each, so notifications
    mails them without keeping a participant list of its own."""
    moved = [k for k in changed if k in TIME_AND_PLACE]
    if not moved:
        return
    for s in await signups.active_of(uow.conn, a.id):
        await uow.emit(signup_event(ev.SignupActivityChanged, s, a, base, changed_fields=moved))


def _replace(a: Activity, fields: dict[str, Any], **more: Any) -> Activity:
    data = {**vars(a), **fields, **more}
    return Activity(**data)


async def cancel(rt: Runtime, principal: Principal, activity_id: str, message: str | None = None) -> Activity:
    """The activity is called off: its participants' sign-ups end with it (they hear so through the events, with the
    organisation's `message` to them if it wrote one)."""
    base = rt.settings.public_base_url
    async with rt.uow() as uow:
        a = await repo.get(uow.conn, activity_id, lock=True)
        if a is None:
            raise access.not_found()
        access.require_owner(principal, a)
        with as_problem():
            check_transition(a.status, "cancelled")
        await repo.save(uow.conn, _replace(a, {}, status="cancelled"))
        await edits.close_pending(uow.conn, a.id, "withdrawn", principal.subject)
        fresh = await repo.get(uow.conn, a.id)
        assert fresh is not None
        await uow.emit(activity_event(ev.ActivityCancelled, fresh, base))
        for s in await signups.active_of(uow.conn, a.id):
            await uow.emit(signup_event(ev.SignupCancelled, s, fresh, base, reason="activity_cancelled",
                                        message=message or None))
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


def _edit_not_found() -> ProblemError:
    return ProblemError(404, "Niet gevonden", "No such held edit.")


async def _locked_pending(uow: UnitOfWork, edit_id: str) -> tuple[HeldEdit, Activity]:
    """The edit and its activity, the activity's row locked (the lock every edit of it takes), still pending."""
    found = await edits.get(uow.conn, edit_id)
    if found is None:
        raise _edit_not_found()
    a = await repo.get(uow.conn, found.activity_id, lock=True)
    e = await edits.get(uow.conn, edit_id)  # again, now that nobody can change it
    assert a is not None and e is not None
    if e.status != "pending":
        raise ProblemError(409, "Wijziging al afgehandeld",
                           f"This edit is {e.status}; a newer edit, if any, is in the moderation queue.")
    return e, a


async def approve_edit(rt: Runtime, principal: Principal, edit_id: str) -> Activity:
    """The held values become the approved version: the agenda, page and calendars show them from now on,
    `ActivityUpdated` carries them, and participants hear of a new time or place."""
    settings = settings_of(rt)
    base = settings.public_base_url
    async with rt.uow() as uow:
        e, a = await _locked_pending(uow, edit_id)
        approved = as_fields(a)
        fields = await _checked(uow, None, _merged({**approved, **e.fields}))
        updated = _replace(a, fields)
        changed = [k for k in PATCHABLE if as_fields(updated)[k] != approved[k]]
        await edits.decide(uow.conn, e.id, "approved", principal.subject, None)
        if changed:
            await repo.save(uow.conn, updated)
            fresh = await repo.get(uow.conn, a.id)
            assert fresh is not None
            await uow.emit(activity_event(ev.ActivityUpdated, fresh, base, changed_fields=changed))
            await _tell_participants(uow, fresh, changed, base)
        fresh = await repo.get(uow.conn, a.id)
    assert fresh is not None
    return fresh


async def reject_edit(rt: Runtime, principal: Principal, edit_id: str, reason: str) -> Activity:
    """The approved version stays; the organisation sees the reason on the activity."""
    async with rt.uow() as uow:
        e, a = await _locked_pending(uow, edit_id)
        await edits.decide(uow.conn, e.id, "rejected", principal.subject, reason)
    return a
