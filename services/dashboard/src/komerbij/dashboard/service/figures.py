"""Use cases of the dashboard: one municipality's figures, the national overview, the editions on offer.

Who may see what: a municipality's figures are for its own organisers (the municipality they act for) and for the
programme team (moderators, comms, admins); the national overview is for the programme team only. The pages and
the JSON API call these same functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from komerbij.dashboard.adapters import model
from komerbij.dashboard.domain.editions import AMSTERDAM, current_edition, editions_on_offer
from komerbij.dashboard.domain.figures import MunicipalityFigures, Overview, overview
from komerbij.runtime.auth import Principal
from komerbij.runtime.http import ProblemError, field_error
from komerbij.runtime.reference import Municipality, municipality
from komerbij.runtime.service import Runtime

PROGRAMME_TEAM = ("moderator", "comms", "admin")
EARLIEST_EDITION, LATEST_EDITION = 2000, 2999


@dataclass(frozen=True)
class Editions:
    current: int
    offered: list[int]  # newest first


def is_programme_team(principal: Principal) -> bool:
    return principal.role in PROGRAMME_TEAM


def may_see(principal: Principal, code: str) -> bool:
    return is_programme_team(principal) or (principal.role == "organiser" and principal.organisation == code)


def known_municipality(code: str) -> Municipality:
    found = municipality(code)
    if found is None:
        raise ProblemError(404, "Gemeente onbekend", f"No municipality with CBS code {code!r}.")
    return found


def check_edition(edition: int, field: str = "edition") -> int:
    if not EARLIEST_EDITION <= edition <= LATEST_EDITION:
        raise field_error(field, f"kies een editie tussen {EARLIEST_EDITION} en {LATEST_EDITION}")
    return edition


async def editions(rt: Runtime) -> Editions:
    today = rt.clock.now().astimezone(AMSTERDAM).date()
    current = current_edition(today)
    async with rt.pool.acquire() as conn:
        with_data = await model.editions(conn)
    return Editions(current, editions_on_offer(current, with_data))


async def municipality_figures(rt: Runtime, principal: Principal, code: str, edition: int) -> MunicipalityFigures:
    place = known_municipality(code)
    if not may_see(principal, code):
        raise ProblemError(403, "Geen toegang", "These figures are for the municipality's own organisers and the "
                           "programme team.")
    check_edition(edition)
    async with rt.pool.acquire() as conn:
        return MunicipalityFigures(
            place, edition,
            await model.activity_figures(conn, code, edition),
            await model.order_figures(conn, code, edition),
            await model.mention_figures(conn, code, edition),
        )


async def national_overview(rt: Runtime, principal: Principal, edition: int) -> Overview:
    if not is_programme_team(principal):
        raise ProblemError(403, "Geen toegang", "The national overview is for the programme team.")
    check_edition(edition)
    async with rt.pool.acquire() as conn:
        counts, mentions = await model.counts_by_municipality(conn, edition)
    return overview(edition, counts, mentions)
