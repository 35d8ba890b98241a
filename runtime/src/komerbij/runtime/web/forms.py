"""What a form needs between two requests: the values typed (shown again on an error) and a message per field.

Name the inputs as the API names its fields (`venue.postcode`): the use case's ProblemError (422 with
`errors[].field`) or a pydantic ValidationError then puts each message at its own input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request

from komerbij.runtime.http import ProblemError, validation_problem
from komerbij.runtime.web.csrf import CSRF_FIELD


@dataclass
class Form:
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    async def read(cls, request: Request) -> Form:
        """The posted text fields (the CSRF token left out); `values` has each field's last value, `lists` all of
        them (checkbox groups)."""
        data = await request.form()
        names = {k for k in data if k != CSRF_FIELD}
        lists = {k: [v for v in data.getlist(k) if isinstance(v, str)] for k in names}
        return cls({k: vs[-1] for k, vs in lists.items() if vs}, {}, lists)

    def all(self, name: str) -> list[str]:
        return self.lists.get(name) or ([self.values[name]] if name in self.values else [])

    def fail(self, error: ProblemError | ValidationError) -> Form:
        """Take the messages of a refused use case (or of a pydantic model, in Dutch) onto the fields they name.
        An error in one item of a list (`target_groups.0`) belongs to the list's input (`target_groups`)."""
        if isinstance(error, ValidationError):
            problem = validation_problem(error.errors())
            assert problem.errors is not None
            for entry, detail in zip(problem.errors, error.errors(), strict=True):
                entry["message"] = dutch_message(detail)
        else:
            problem = error
        for entry in problem.errors or [{"field": "", "message": problem.detail}]:
            self.errors.setdefault(_LIST_ITEM.sub("", entry["field"]), entry["message"])
        return self

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)


_LIST_ITEM = re.compile(r"(\.\d+)+$")

# What people read at a field that a pydantic model refused, by the error's type (pydantic's own texts are English).
# Messages of our own validators (`value_error`) are Dutch already and pass unchanged.
_DUTCH: dict[str, str] = {
    "missing": "vul dit in",
    "string_too_short": "vul dit in",
    "string_too_long": "gebruik hooguit {max_length} tekens",
    "string_type": "vul tekst in",
    "int_parsing": "vul een heel getal in, bijvoorbeeld 4",
    "int_from_float": "vul een heel getal in, bijvoorbeeld 4",
    "int_type": "vul een heel getal in, bijvoorbeeld 4",
    "float_parsing": "vul een getal in, bijvoorbeeld 2,50",
    "float_type": "vul een getal in, bijvoorbeeld 2,50",
    "greater_than_equal": "vul {ge} of meer in",
    "greater_than": "vul meer dan {gt} in",
    "less_than_equal": "vul hooguit {le} in",
    "less_than": "vul minder dan {lt} in",
    "literal_error": "kies een van de mogelijkheden",
    "enum": "kies een van de mogelijkheden",
    "too_short": "kies er minstens {min_length}",
    "too_long": "kies er hooguit {max_length}",
    "url_parsing": "geen geldige link; schrijf die als https://...",
    "url_scheme": "geen geldige link; schrijf die als https://...",
    "url_type": "geen geldige link; schrijf die als https://...",
    "url_too_long": "deze link is te lang",
    "datetime_parsing": "geen geldige datum en tijd",
    "datetime_from_date_parsing": "geen geldige datum en tijd",
    "datetime_type": "geen geldige datum en tijd",
    "date_parsing": "geen geldige datum",
    "date_from_datetime_parsing": "geen geldige datum",
    "date_type": "geen geldige datum",
    "bool_parsing": "kies ja of nee",
    "bool_type": "kies ja of nee",
    "extra_forbidden": "dit veld hoort niet bij dit formulier",
}


def dutch_message(error: Mapping[str, Any]) -> str:
    """One pydantic error as a Dutch message for people; an unknown type gets a general one rather than English."""
    kind = str(error.get("type", ""))
    if kind in ("value_error", "assertion_error"):
        return str(error.get("msg", "")).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    template = _DUTCH.get(kind)
    if template is None:
        return "dit is niet goed ingevuld"
    try:
        return template.format(**(error.get("ctx") or {}))
    except (KeyError, IndexError):
        return "dit is niet goed ingevuld"
