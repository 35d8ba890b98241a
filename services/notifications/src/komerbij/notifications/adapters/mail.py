"""Dutch e-mail: rendered from Jinja2 templates (plain text + HTML) and sent over SMTP with aiosmtplib."""

from __future__ import annotations

from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formataddr, parseaddr
from typing import Any

import aiosmtplib
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from komerbij.notifications.domain.digest import AMSTERDAM
from komerbij.runtime import reference

_DAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")


def dag(value: date | str) -> str:
    """"donderdag 2 oktober 2025"."""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{_DAYS[day.weekday()]} {reference.dutch_date(day)}"


def datum(value: datetime | str | None) -> str:
    """"donderdag 2 oktober 2025 om 14:00", in Dutch time."""
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(AMSTERDAM)
    return f"{dag(local.date())} om {local:%H:%M}"


_env = Environment(
    loader=PackageLoader("komerbij.notifications", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
_env.filters["datum"] = datum
_env.filters["dag"] = dag

SIGNUP_STATUS = {"SignupConfirmed": "confirmed", "SignupWaitlisted": "waitlisted", "SignupPromoted": "promoted",
                 "SignupCancelled": "cancelled"}
_PARTICIPANT_SUBJECTS = {
    "confirmed": "Bevestiging van uw aanmelding: {title}", "waitlisted": "U staat op de wachtlijst: {title}",
    "promoted": "Er is plek voor u: {title}", "cancelled": "Uw aanmelding is geannuleerd: {title}",
}
_ORGANISER_TEXT = {
    "confirmed": "Er is een nieuwe aanmelding", "waitlisted": "Er staat iemand nieuw op de wachtlijst",
    "promoted": "Iemand van de wachtlijst heeft een plek gekregen", "cancelled": "Er is een aanmelding geannuleerd",
}
_ORDER_TEXT = {
    "OrderPlaced": "Wij hebben uw bestelling van het Kom erbij-pakket ontvangen.",
    "OrderConfirmed": "Uw bestelling van het Kom erbij-pakket is bevestigd.",
    "OrderRejected": "Uw bestelling van het Kom erbij-pakket kan helaas niet worden uitgevoerd.",
    "OrderPicking": "Uw bestelling van het Kom erbij-pakket wordt ingepakt.",
    "OrderShipped": "Uw bestelling van het Kom erbij-pakket is verzonden.",
    "OrderDelivered": "Uw bestelling van het Kom erbij-pakket is bezorgd.",
    "OrderCancelled": "Uw bestelling van het Kom erbij-pakket is geannuleerd.",
}
_REJECT_REASONS = {"out_of_stock": "niet genoeg voorraad", "quota_exceeded": "het maximum per organisatie is bereikt",
                   "window_closed": "de bestelperiode is gesloten"}
DIGEST_LABELS = {
    "ActivityPublished": "Nieuwe activiteit", "ActivityCancelled": "Activiteit gaat niet door",
    "MentionRecorded": "In de media", "SignupConfirmed": "Nieuwe aanmelding", "SignupWaitlisted": "Wachtlijst",
    "SignupPromoted": "Van wachtlijst naar deelname", "SignupCancelled": "Aanmelding geannuleerd",
}


def _place(e: dict[str, Any]) -> str:
    if e.get("online"):
        return "online"
    venue = e.get("venue") or {}
    found = reference.municipality(e.get("municipality") or "")
    parts = [venue.get("name"), venue.get("street"), venue.get("city") or (found.name if found else None)]
    return ", ".join(p for p in parts if p)


def _subject_and_context(kind: str, event_name: str, e: dict[str, Any], *, partner: bool) -> tuple[str, dict]:
    if kind == "activity":
        cancelled = event_name == "ActivityCancelled"
        found = reference.municipality(e.get("municipality") or "")
        where = f" in {found.name}" if found else ""
        subject = f"Activiteit gaat niet door: {e['title']}" if cancelled else f"Nieuwe activiteit{where}: {e['title']}"
        return subject, {"cancelled": cancelled, "place": _place(e)}
    if kind == "mention":
        return f"In de media: {e['title']}", {}
    if kind == "signup":
        status = SIGNUP_STATUS[event_name]
        if partner:
            return f"{_ORGANISER_TEXT[status]}: {e['activity_title']}", {"status_text": _ORGANISER_TEXT[status]}
        return _PARTICIPANT_SUBJECTS[status].format(title=e["activity_title"]), {"status": status}
    if kind == "order":
        text = _ORDER_TEXT.get(event_name, "De status van uw bestelling is gewijzigd.")
        if event_name == "OrderRejected":
            reason = e.get("message") or _REJECT_REASONS.get(e.get("reason", ""), e.get("reason", ""))
            text += f" Reden: {reason.rstrip('.')}."
        return f"Uw bestelling {e['order_id']}: {text.split('.')[0].lower()}", {"status_text": text}
    if kind == "stock":
        return f"Voorraad laag: {e['name']}", {}
    if kind == "digest":
        return f"Dagoverzicht Week tegen Eenzaamheid – {dag(e['day'])}", {"day": e["day"], "items": e["items"]}
    if kind == "webhook_disabled":
        return "Uw webhook voor meldingen is uitgeschakeld", {}
    raise ValueError(f"no template for kind {kind!r}")


def compose(*, kind: str, event_name: str, data: dict[str, Any], to: str, greeting_name: str | None,
            message_id: str, sender: str, unsubscribe_url: str | None, partner: bool) -> EmailMessage:
    """One message with a plain-text and an HTML part; non-transactional mail gets RFC 8058 one-click headers."""
    subject, context = _subject_and_context(kind, event_name, data, partner=partner)
    template = "signup_partner" if kind == "signup" and partner else kind
    values = {
        "e": data, "subject": subject, "unsubscribe_url": unsubscribe_url,
        "greeting": f"Beste {greeting_name}," if greeting_name else "Beste lezer,", **context,
    }
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Message-ID"] = message_id
    message["Content-Language"] = "nl"
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(_env.get_template(f"{template}.txt").render(values))
    message.add_alternative(_env.get_template(f"{template}.html").render(values), subtype="html")
    return message


def render_page(title: str, message: str, *, confirm: bool) -> str:
    return _env.get_template("unsubscribe.html").render(title=title, message=message, confirm=confirm)


def sender_domain(sender: str) -> str:
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or "komerbij.nl"


class Mailer:
    """SMTP over aiosmtplib; one connection per message keeps a failed message from affecting the next."""

    def __init__(self, *, host: str, port: int, sender: str, username: str | None = None,
                 password: str | None = None, starttls: bool = False, timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message, hostname=self.host, port=self.port, username=self._username, password=self._password,
            start_tls=self._starttls, timeout=self._timeout,
            sender=parseaddr(self.sender)[1] or self.sender,
        )


def display(name: str, address: str) -> str:
    return formataddr((name, address))
