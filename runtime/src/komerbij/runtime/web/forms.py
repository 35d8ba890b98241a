"""What a form needs between two requests: the values typed (shown again on an error) and a message per field.

Name the inputs as the API names its fields (`venue.postcode`): the use case's ProblemError (422 with
`errors[].field`) or a pydantic ValidationError then puts each message at its own input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
        """Take the messages of a refused use case (or of a pydantic model) onto the fields they name."""
        problem = validation_problem(error.errors()) if isinstance(error, ValidationError) else error
        for entry in problem.errors or [{"field": "", "message": problem.detail}]:
            self.errors.setdefault(entry["field"], entry["message"])
        return self

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)
