"""Broken rules as the API reports them: 422 naming the field, 409 for a state that does not allow the action."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import ValidationError

from komerbij.registration.domain.violations import RuleViolation, StateConflict
from komerbij.runtime.http import ProblemError, field_error


@contextmanager
def as_problem() -> Iterator[None]:
    try:
        yield
    except RuleViolation as exc:
        raise field_error(exc.field, exc.message) from None
    except StateConflict as exc:
        raise ProblemError(409, "Niet mogelijk in deze status", exc.message) from None


def invalid(field: str, message: str) -> ProblemError:
    return field_error(field, message)


def validation_problem(exc: ValidationError) -> ProblemError:
    """The same shape as the runtime's request validation errors, for input validated after merging (PATCH)."""
    errors = [
        {"field": ".".join(str(p) for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
         or "body", "message": str(e["msg"]).removeprefix("Value error, ")}
        for e in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return ProblemError(422, "Ongeldige invoer", detail, errors=errors)
