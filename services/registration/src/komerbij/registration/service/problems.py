"""Broken rules as the API reports them: 422 naming the field, 409 for a state that does not allow the action."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
