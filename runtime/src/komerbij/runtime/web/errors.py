"""Errors people see as a Dutch page instead of problem JSON."""

from __future__ import annotations


class PageError(Exception):
    """Raise from a page to answer with the shared error page: `title` and `message` are Dutch, for people."""

    def __init__(self, status: int, title: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
        self.headers = headers


class LoginRequired(Exception):
    """The page needs a logged-in person: answered with a redirect to /login that comes back here afterwards."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path
