"""Reading the comms team's forms: typed values into what the use cases take, every refusal as a Dutch message at
its field.

The API's models validate here too (one set of rules), but pydantic words its own messages in English; people read
Dutch, so each kind of refusal gets a Dutch sentence. Our validators' messages are Dutch already and are kept.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from komerbij.runtime import web
from komerbij.runtime.http import ProblemError, validation_problem

_DUTCH: dict[str, str] = {
    "missing": "Vul dit in.",
    "string_too_short": "Vul dit in.",
    "string_too_long": "Gebruik hoogstens {max_length} tekens.",
    "too_long": "Hoogstens {max_length}.",
    "uuid_parsing": "Kies er een uit de lijst.",
    "uuid_type": "Kies er een uit de lijst.",
    "datetime_parsing": "Vul een geldige datum in, bijvoorbeeld 30-09-2026.",
    "datetime_from_date_parsing": "Vul een geldige datum in, bijvoorbeeld 30-09-2026.",
    "datetime_type": "Vul een geldige datum in, bijvoorbeeld 30-09-2026.",
    "date_parsing": "Vul een geldige datum in, bijvoorbeeld 30-09-2026.",
    "date_from_datetime_parsing": "Vul een geldige datum in, bijvoorbeeld 30-09-2026.",
    "int_parsing": "Vul een heel getal in.",
    "int_from_float": "Vul een heel getal in.",
    "greater_than_equal": "Vul {ge} of meer in.",
    "less_than_equal": "Vul hoogstens {le} in.",
    "literal_error": "Kies een van de mogelijkheden.",
    "enum": "Kies een van de mogelijkheden.",
}


def dutch_problem(error: ValidationError, missing: dict[str, str] | None = None) -> ProblemError:
    """The model's 422, worded for people; `missing` says per field what to do when it was left empty."""
    problem = validation_problem(error.errors())
    for entry, raw in zip(problem.errors or [], error.errors(), strict=True):
        template = _DUTCH.get(raw["type"])
        if raw["type"] in ("missing", "string_too_short") and entry["field"] in (missing or {}):
            entry["message"] = (missing or {})[entry["field"]]
        elif template is not None:
            entry["message"] = template.format(**{k: _number(v) for k, v in (raw.get("ctx") or {}).items()})
        elif raw["type"] == "value_error":
            entry["message"] = _sentence(entry["message"])
        else:
            entry["message"] = "Dit klopt niet; kijk het na."
    return problem


def _number(value: Any) -> Any:
    return f"{value:,}".replace(",", ".") if isinstance(value, int) else value


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else text


def fail(form: web.Form, error: ProblemError | ValidationError, *, fields: dict[str, str] | None = None,
         missing: dict[str, str] | None = None) -> web.Form:
    """Put each message at the input it is about: `query.to` is the input `to`, a list item (`tags.3`) its list's
    input, and `fields` renames what the page asks under another name. A message already there stays."""
    problem = dutch_problem(error, missing) if isinstance(error, ValidationError) else error
    renames = fields or {}
    for entry in problem.errors or [{"field": "", "message": _sentence(problem.title)}]:
        name = entry["field"].removeprefix("query.")
        head, _, rest = name.partition(".")
        if rest.isdigit():
            name = head
        name = renames.get(name, name)
        form.errors.setdefault(name, _sentence(entry["message"]))
    return form


def optional(form: web.Form, name: str) -> str | None:
    value = form.values.get(name, "").strip()
    return value or None


def parse_day(text: str) -> date:
    """A day as the date input sends it (2026-09-30) or as people type it (30-9-2026)."""
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def tags_of(text: str) -> list[str]:
    """"nieuwsbrief, interview" → ["nieuwsbrief", "interview"] (tidied by the use case)."""
    return [t.strip() for t in text.split(",") if t.strip()]
