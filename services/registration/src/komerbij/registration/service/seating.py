"""Moving people up from the waitlist when seats come free (a cancellation, or more capacity).

Callers hold the activity's row lock, so the seats counted here cannot change underneath; `signups.promote` counts
the promoted parties' seats on the activity.
"""

from __future__ import annotations

from komerbij.contracts.events import registration as ev
from komerbij.registration.adapters import activities, signups
from komerbij.registration.domain import waitlist
from komerbij.registration.domain.activity import Activity
from komerbij.registration.service.outgoing import signup_event
from komerbij.registration.service.tokens import link_token
from komerbij.runtime.service import UnitOfWork


async def fill_free_seats(uow: UnitOfWork, a: Activity, base_url: str, key: str) -> list[str]:
    taken = await activities.seats_taken(uow.conn, a.id)  # the counter as it is now, not as when `a` was read
    chosen = waitlist.promote(a.capacity, taken, await signups.waitlist(uow.conn, a.id))
    if not chosen:
        return []
    promoted = await signups.promote(uow.conn, [w.signup_id for w in chosen])
    for s in promoted:
        # The promotion mail repeats the sign-up's link; its hash is added only if the key changed since.
        _, digest = link_token(key, s.id)
        await signups.add_token(uow.conn, s.id, digest)
        await uow.emit(signup_event(ev.SignupPromoted, s, a, base_url))
    return [s.id for s in promoted]
