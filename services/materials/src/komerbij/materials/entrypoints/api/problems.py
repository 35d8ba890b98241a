"""Domain refusals as HTTP problems: the one place that decides which status code each "no" gets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from komerbij.materials.domain.catalog import UnknownSku
from komerbij.materials.domain.orders import IdempotencyConflict, RuleViolation, TransitionNotAllowed, UnknownOrder
from komerbij.runtime.http import ProblemError, field_error


@contextmanager
def as_problems() -> Iterator[None]:
    try:
        yield
    except RuleViolation as exc:
        raise field_error(exc.field, exc.message, title=exc.title) from None
    except TransitionNotAllowed as exc:
        raise ProblemError(409, exc.message_nl, str(exc),
                           extra={"current_status": exc.current, "requested_status": exc.target}) from None
    except UnknownOrder:
        raise ProblemError(404, "Bestelling niet gevonden", "No such order.") from None
    except UnknownSku as exc:
        raise ProblemError(404, "Artikel niet gevonden", f"No SKU {exc}.") from None
    except IdempotencyConflict:
        raise ProblemError(
            409, "Deze Idempotency-Key is al gebruikt voor een andere bestelling",
            "The Idempotency-Key was used before with a different request body; use a new key for a new order.",
        ) from None
