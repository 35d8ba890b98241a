"""A broken business rule, named after the input field it concerns, so the API can show it beside that field."""

from __future__ import annotations


class RuleViolation(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class StateConflict(Exception):
    """The action does not fit the object's current state (publishing a cancelled activity): HTTP 409."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
