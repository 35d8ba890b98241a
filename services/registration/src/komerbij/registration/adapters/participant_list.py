"""The participant list as a spreadsheet (CSV) for the organiser: the API's `signups.csv` and the organiser's page
give the same file."""

from __future__ import annotations

from collections.abc import Iterable

from komerbij.registration.domain.edition import AMSTERDAM
from komerbij.registration.domain.signup import Signup
from komerbij.runtime.csvcells import csv_text

COLUMNS = ("naam", "e-mail", "telefoon", "aantal personen", "status", "aangemeld op")
STATUS_NL = {"confirmed": "bevestigd", "waitlisted": "wachtlijst", "cancelled": "geannuleerd"}


def participants_csv(people: Iterable[Signup]) -> str:
    # Names and addresses are typed by the public: csv_text keeps them from running as spreadsheet formulas.
    body = csv_text(COLUMNS, ((s.name, s.email, s.phone, s.party_size, STATUS_NL[s.status],
                               s.created_at.astimezone(AMSTERDAM).isoformat()) for s in people))
    # A byte-order mark, so that Excel opens the accents (Eén, Zoë) correctly.
    return "\ufeff" + body


def filename(activity_id: str) -> str:
    return f"aanmeldingen-{activity_id}.csv"
