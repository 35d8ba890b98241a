"""Use cases of sign-ups: place a party (confirmed or waitlisted), cancel with the secret link, list participants.

Every use case that counts seats first takes the activity's row lock (`SELECT ... FOR UPDATE`, or for a sign-up the
conditional `UPDATE` that counts its seats): concurrent sign-ups for one activity queue up behind it, so capacity is
never exceeded, while other activities are not held up. The seats taken are a counter on the activity, changed in the
same transaction as the sign-ups (see `adapters.signups`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from komerbij.contracts.events import registration as ev
from komerbij.registration.adapters import activities, signups
from komerbij.registration.domain import waitlist
from komerbij.registration.domain.activity import Activity
from komerbij.registration.domain.signup import Signup
from komerbij.registration.domain.waitlist import Placement
from komerbij.registration.service import access, seating
from komerbij.registration.service.commands import SignupRequest
from komerbij.registration.service.outgoing import signup_event
from komerbij.registration.service.problems import invalid
from komerbij.registration.service.tokens import link_token, matches
from komerbij.registration.settings import settings_of
from komerbij.runtime.auth import Principal
from komerbij.runtime.http import ProblemError, field_errors
from komerbij.runtime.service import Runtime


@dataclass(frozen=True)
class Placed:
    signup: Signup
    token: str
    waitlist_position: int | None


def request_problems(email: str | None, phone: str | None, consent: bool) -> dict[str, str]:
    """The rules of a sign-up that span fields, per field: a way to reach the person, and their consent. (A page
    checks them beside the per-field ones, so that every message shows at once.)"""
    problems: dict[str, str] = {}
    if not email and not phone:
        message = "geef een e-mailadres of telefoonnummer op, zodat de organisator u kan bereiken"
        problems.update(email=message, phone=message)
    if not consent:
        problems["consent"] = "zonder uw toestemming kunnen we uw aanmelding niet bewaren"
    return problems


def _check_request(req: SignupRequest) -> None:
    problems = request_problems(req.email, req.phone, req.consent)
    if problems:
        raise field_errors(problems)


def _open_for_signups(a: Activity | None, now: datetime) -> Activity:
    if a is None or not access.can_see(None, a):
        raise access.not_found()
    if a.status == "cancelled":
        raise ProblemError(409, "Activiteit gaat niet door", "The activity has been cancelled.")
    if a.starts_at <= now:
        raise ProblemError(409, "Aanmelden is gesloten", "The activity has already started.")
    return a


_ALREADY = {
    "signups_one_per_email": ("email", "dit e-mailadres"),
    "signups_one_per_phone": ("phone", "dit telefoonnummer"),
}


def _already_signed_up(exc: asyncpg.UniqueViolationError) -> ProblemError:
    field, what = _ALREADY[exc.constraint_name or ""]
    message = (f"Met {what} is al iemand aangemeld voor deze activiteit. In de bevestigingsmail van die aanmelding "
               "staat de link om af te melden of de aanmelding te annuleren.")
    return ProblemError(409, "U bent al aangemeld", message, errors=[{"field": field, "message": message}])


async def sign_up(rt: Runtime, activity_id: str, req: SignupRequest) -> Placed:
    """One active sign-up per e-mail address and per phone number for an activity: a second is refused (409) by
    the database's unique indexes, so two at the same moment cannot both get in; the first stays as it was."""
    _check_request(req)
    try:
        return await _sign_up(rt, activity_id, req)
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name not in _ALREADY:
            raise
        raise _already_signed_up(exc) from None


async def _sign_up(rt: Runtime, activity_id: str, req: SignupRequest) -> Placed:
    settings = settings_of(rt)
    base = settings.public_base_url
    async with rt.uow() as uow:
        now = rt.clock.now()
        # Counts the party's seats if they are free, and locks the activity's row either way.
        found, claimed = await activities.claim_seats(uow.conn, activity_id, req.party_size, now)
        a = _open_for_signups(found, now)
        if req.party_size > a.max_party_size:  # raising rolls the seats just counted back
            raise invalid("party_size", f"u kunt zich voor deze activiteit met hooguit {a.max_party_size} "
                          f"{'persoon' if a.max_party_size == 1 else 'personen'} aanmelden")
        if not claimed and waitlist.place(a.capacity, a.seats_taken, req.party_size) == "confirmed":
            # Seats came free (a cancellation) between the conditional update and the lock: take them, as before.
            found, claimed = await activities.claim_seats(uow.conn, activity_id, req.party_size, now)
            assert found is not None and claimed
            a = found
        status: Placement = "confirmed" if claimed else "waitlisted"
        signup_id = str(uuid.uuid4())
        token, digest = link_token(settings.cancel_link_key, signup_id)
        s = Signup(id=signup_id, activity_id=a.id, status=status, party_size=req.party_size, name=req.name,
                   email=req.email, phone=req.phone, token_hashes=[digest], created_at=now)
        if status == "confirmed":  # the row and its event in one statement: a round trip fewer on the busy path
            position = None
            await uow.emit_after(*signups.insert_statement(s, consent_at=now),
                                 signup_event(ev.SignupConfirmed, s, a, base))
        else:
            position = await signups.insert(uow.conn, s, consent_at=now)
            await uow.emit(signup_event(ev.SignupWaitlisted, s, a, base, waitlist_position=position))
    return Placed(s, token, position)


async def _authorised(rt: Runtime, signup_id: str, token: str) -> Signup:
    async with rt.pool.acquire() as conn:
        s = await signups.get(conn, signup_id)
    if s is None or (s.status != "cancelled" and not matches(token, s.token_hashes)):
        raise ProblemError(404, "Link niet geldig", "No sign-up with this id and token.")
    return s


async def lookup(rt: Runtime, signup_id: str, token: str) -> tuple[Signup, Activity]:
    """For the confirmation page behind the cancel link."""
    s = await _authorised(rt, signup_id, token)
    async with rt.pool.acquire() as conn:
        a = await activities.get(conn, s.activity_id)
    assert a is not None
    return s, a


async def cancel(rt: Runtime, signup_id: str, token: str) -> tuple[Signup, list[str]]:
    """Cancelling twice is harmless (the link may be clicked again). Freed seats go to the waitlist in order."""
    s = await _authorised(rt, signup_id, token)
    if s.status == "cancelled":
        return s, []
    settings = settings_of(rt)
    base = settings.public_base_url
    async with rt.uow() as uow:
        a = await activities.get(uow.conn, s.activity_id, lock=True)
        assert a is not None
        s = await signups.get(uow.conn, signup_id)  # again, now under the lock
        assert s is not None
        if s.status == "cancelled":
            return s, []
        was_confirmed = s.status == "confirmed"
        await uow.emit(signup_event(ev.SignupCancelled, s, a, base, reason="participant"))
        await signups.cancel(uow.conn, s.id)
        promoted = await seating.fill_free_seats(uow, a, base, settings.cancel_link_key) if was_confirmed else []
        s = await signups.get(uow.conn, signup_id)
    assert s is not None
    return s, promoted


async def participants(rt: Runtime, principal: Principal, activity_id: str) -> tuple[Activity, list[Signup]]:
    async with rt.pool.acquire() as conn:
        a = await activities.get(conn, activity_id)
        if a is None:
            raise access.not_found()
        access.require_owner(principal, a)
        return a, await signups.participants(conn, a.id)
