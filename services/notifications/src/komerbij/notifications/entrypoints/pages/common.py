"""What the notifications pages share: one-time messages after a redirect, and refusals as messages at fields."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from komerbij.notifications.domain.partners import Conflict, PartnerRuleError
from komerbij.runtime.http import ProblemError, field_errors


def flash(request: Request, text: str, kind: str = "ok") -> None:
    """A message for the page the POST redirects to (kind: ok, warning, error), kept in the session till shown."""
    request.session["flash"] = {"kind": kind, "text": text}


def take_flash(request: Request) -> dict[str, Any] | None:
    if "session" not in request.scope:
        return None
    found = request.session.pop("flash", None)
    return found if isinstance(found, dict) else None


def sentence(message: str) -> str:
    """The use cases' messages ("kies minstens één soort melding") as a sentence on a page."""
    message = message.strip()
    return message[:1].upper() + message[1:] + ("" if message.endswith((".", "?", "!")) else ".")


def at_field(exc: PartnerRuleError | Conflict) -> ProblemError:
    return field_errors({exc.field: sentence(str(exc))})
