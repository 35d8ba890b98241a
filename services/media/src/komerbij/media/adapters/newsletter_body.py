"""The nieuwsflits as readers get it: the edition's body in HTML (inline styles, as mail programs want) and plain
text, rendered once by media so that what comms previews is what notifications sends. The greeting before it and the
unsubscribe and preferences links after it are each reader's own; notifications adds them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from komerbij.runtime.reference import dutch_date

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_DAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")


def day(value: date | datetime | str) -> str:
    """"donderdag 1 oktober 2026"; a moment counts in Dutch time."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(AMSTERDAM).date()
    return f"{_DAYS[value.weekday()]} {dutch_date(value)}"


def moment(value: datetime | str) -> str:
    """"donderdag 1 oktober 2026, 14:00" in Dutch time."""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{day(when)}, {when.astimezone(AMSTERDAM):%H:%M}"


_env = Environment(loader=PackageLoader("komerbij.media", "templates/mail"), autoescape=select_autoescape(["html"]),
                   undefined=StrictUndefined, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
_env.filters.update(day=day, moment=moment)


def subject(content: dict[str, Any]) -> str:
    number = content.get("number")
    prefix = f"Nieuwsflits {number}" if number else "Nieuwsflits"
    return " ".join(f"{prefix}: {content['title']}".split())


def render(content: dict[str, Any]) -> tuple[str, str]:
    """(HTML fragment, plain text) of the edition's body; `content` is the event's data without the bodies."""
    return (_env.get_template("newsletter_body.html").render(n=content),
            _env.get_template("newsletter_body.txt").render(n=content))


def render_preview(content: dict[str, Any], body_html: str, body_text: str) -> tuple[str, str]:
    """The whole mail as a reader sees it, with a stand-in greeting and the links every reader gets (a preview is
    nobody's own mail, so the links lead nowhere)."""
    values = {"n": content, "body_html": body_html, "body_text": body_text, "subject": subject(content)}
    return (_env.get_template("newsletter_preview.html").render(values),
            _env.get_template("newsletter_preview.txt").render(values))
