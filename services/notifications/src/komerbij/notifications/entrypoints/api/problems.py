"""Domain errors of the partner register as problem JSON, for every admin route."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from komerbij.notifications.domain.partners import Conflict, NotFound, PartnerRuleError
from komerbij.runtime.http import ProblemError, field_error

T = TypeVar("T")


async def guard(call: Awaitable[T]) -> T:
    """Domain errors become problem JSON: 422 naming the field, 409 for clashes, 404 for unknown objects."""
    try:
        return await call
    except PartnerRuleError as exc:
        raise field_error(exc.field, str(exc)) from None
    except Conflict as exc:
        raise ProblemError(409, "Bestaat al", f"{exc.field}: {exc}",
                           errors=[{"field": exc.field, "message": str(exc)}]) from None
    except NotFound:
        raise ProblemError(404, "Niet gevonden", "No such partner, contact or delivery.") from None
