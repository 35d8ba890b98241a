"""Who may see and change which activity. Object-level rules on top of the role check of `auth.require`."""

from __future__ import annotations

from komerbij.registration.domain.activity import Activity
from komerbij.registration.domain.violations import RuleViolation
from komerbij.runtime import reference
from komerbij.runtime.auth import Principal
from komerbij.runtime.http import ProblemError


def owns(principal: Principal | None, a: Activity) -> bool:
    """Organisations own activities, people act for them: every organiser of the owning organisation (a colleague
    on holiday is covered), nobody else but admins. The token subject plays no part (it may recur elsewhere)."""
    if principal is None:
        return False
    if principal.is_admin:
        return True
    return (principal.role == "organiser" and principal.organisation is not None
            and principal.organisation == a.owner_organisation)


def can_see(principal: Principal | None, a: Activity) -> bool:
    """Published and cancelled activities are public; drafts and rejections only for their organisation and
    moderators."""
    if a.status == "published" or (a.status == "cancelled" and a.published_at is not None):
        return True
    return owns(principal, a) or (principal is not None and principal.role == "moderator")


def not_found() -> ProblemError:
    return ProblemError(404, "Niet gevonden", "No such activity.")


def require_owner(principal: Principal, a: Activity) -> None:
    if owns(principal, a):
        return
    if not can_see(principal, a):
        raise not_found()  # a draft of someone else: its existence does not leak
    raise ProblemError(403, "Geen toegang", "Only organisers of the organisation this activity belongs to may do this.")


def organisation_of(principal: Principal) -> str:
    """The organisation an organiser acts for; a token naming none can own nothing."""
    if principal.organisation is None:
        raise ProblemError(403, "Geen toegang", "The token names neither a municipality nor a national partner.")
    return principal.organisation


def municipality_for(principal: Principal, requested: str | None) -> str | None:
    """Municipal organisers register in their own municipality (from the token); national partners choose one or
    none (national/online); admins choose freely."""
    if requested is not None and reference.municipality(requested) is None:
        raise RuleViolation("municipality", f"onbekende gemeentecode {requested!r}; gebruik de CBS-code, bv. GM0363")
    if principal.is_admin:
        return requested
    if principal.municipality:
        if requested not in (None, principal.municipality):
            raise RuleViolation("municipality", "u kunt alleen activiteiten in uw eigen gemeente aanmelden")
        return principal.municipality
    if principal.partner:
        return requested
    raise ProblemError(403, "Geen toegang", "The token names neither a municipality nor a national partner.")
