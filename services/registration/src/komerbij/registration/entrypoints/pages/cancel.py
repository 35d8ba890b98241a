"""Small Dutch HTML pages for people following a link from a mail (Jinja2, autoescaped)."""

from __future__ import annotations

from datetime import datetime

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse

from komerbij.registration.domain.activity import Activity
from komerbij.registration.domain.edition import AMSTERDAM
from komerbij.registration.domain.signup import Signup
from komerbij.runtime.reference import dutch_date

_env = Environment(loader=PackageLoader("komerbij.registration", "templates"), autoescape=select_autoescape())
_HEADINGS = {"confirm": "Aanmelding annuleren", "done": "Aanmelding geannuleerd",
             "already": "Al geannuleerd", "invalid": "Link niet geldig"}


def _when(a: Activity) -> str:
    start: datetime = a.starts_at.astimezone(AMSTERDAM)
    end: datetime = a.ends_at.astimezone(AMSTERDAM)
    return f"{dutch_date(start.date())}, {start:%H:%M}–{end:%H:%M} uur"


def cancel_page(state: str, signup: Signup | None = None, activity: Activity | None = None,
                status_code: int = 200) -> HTMLResponse:
    html = _env.get_template("cancel.html").render(
        state=state, heading=_HEADINGS[state], signup=signup, activity=activity,
        when=_when(activity) if activity else "",
    )
    # The page holds a secret link: keep it out of caches and referrers.
    return HTMLResponse(html, status_code=status_code,
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
