"""Dutch e-mail: rendered from Jinja2 templates (plain text + HTML) and sent over SMTP with aiosmtplib."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from email import encoders
from email.charset import QP, Charset
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, getaddresses, parseaddr
from types import TracebackType
from typing import Any

import aiosmtplib
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from komerbij.notifications.adapters.calendar import FILENAME, activity_invite
from komerbij.notifications.domain.digest import AMSTERDAM
from komerbij.notifications.domain.links import Links, activity_path, mention_path, order_path
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
    auto_reload=False,  # package data, fixed while running: no stat() of the template file for every mail
)
_env.filters["datum"] = datum
_env.filters["dag"] = dag

SIGNUP_STATUS = {"SignupConfirmed": "confirmed", "SignupWaitlisted": "waitlisted", "SignupPromoted": "promoted",
                 "SignupCancelled": "cancelled", "SignupActivityChanged": "changed"}
_PARTICIPANT_SUBJECTS = {
    "confirmed": "Bevestiging van uw aanmelding: {title}", "waitlisted": "U staat op de wachtlijst: {title}",
    "promoted": "Er is plek voor u: {title}", "cancelled": "Uw aanmelding is geannuleerd: {title}",
    "changed": "Gewijzigde tijd of plaats: {title}",
}
_ORGANISER_TEXT = {
    "confirmed": "Er is een nieuwe aanmelding", "waitlisted": "Er staat iemand nieuw op de wachtlijst",
    "promoted": "Iemand van de wachtlijst heeft een plek gekregen", "cancelled": "Er is een aanmelding geannuleerd",
    "changed": "Een deelnemer is op de hoogte gebracht van een wijziging",
}
# Per order event: the subject's end ("Bestelling <id> ...") and the mail's opening sentence.
_ORDER_TEXT = {
    "OrderPlaced": ("is ontvangen", "Wij hebben uw bestelling van het Kom erbij-pakket ontvangen. U hoort van ons "
                                    "zodra wij de bestelling hebben bekeken."),
    "OrderConfirmed": ("is bevestigd", "Uw bestelling van het Kom erbij-pakket is bevestigd. Wij pakken het zo snel "
                                       "mogelijk voor u in."),
    "OrderRejected": ("kan niet worden uitgevoerd", "Uw bestelling van het Kom erbij-pakket kan helaas niet worden "
                                                    "uitgevoerd."),
    "OrderPicking": ("wordt ingepakt", "Uw bestelling van het Kom erbij-pakket wordt nu ingepakt."),
    "OrderShipped": ("is verzonden", "Uw bestelling van het Kom erbij-pakket is verzonden."),
    "OrderDelivered": ("is bezorgd", "Uw bestelling van het Kom erbij-pakket is bezorgd. Veel plezier met de "
                                     "activiteiten!"),
    "OrderCancelled": ("is geannuleerd", "Uw bestelling van het Kom erbij-pakket is geannuleerd."),
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


def _order(event_name: str, e: dict[str, Any]) -> tuple[str, dict]:
    """Every order event carries the order as it stands; only some add to it (the carrier when shipped, the reason
    when rejected). The template gets each value it shows, present or not, so no event lacks one."""
    ending, text = _ORDER_TEXT.get(event_name, ("is gewijzigd", "De status van uw bestelling is gewijzigd."))
    reason = None
    if event_name == "OrderRejected":
        reason = (e.get("message") or _REJECT_REASONS.get(e.get("reason") or "", e.get("reason") or "")).rstrip(".")
    context = {
        "status_text": text, "reason": reason, "carrier": e.get("carrier"), "tracking_code": e.get("tracking_code"),
        "wanted_by": e.get("wanted_by") if event_name in ("OrderPlaced", "OrderConfirmed") else None,
    }
    return f"Bestelling {e['order_id']} {ending}", context


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
        return _order(event_name, e)
    if kind == "stock":
        return f"Voorraad laag: {e['name']}", {}
    if kind == "digest":
        return f"Dagoverzicht Week tegen Eenzaamheid – {dag(e['day'])}", {"day": e["day"], "items": e["items"]}
    if kind == "newsletter":
        number = e.get("number")
        return f"Nieuwsflits{f' {number}' if number else ''}: {e['title']}", {}
    if kind == "webhook_disabled":
        return "Uw webhook voor meldingen is uitgeschakeld", {}
    raise ValueError(f"no template for kind {kind!r}")


# Headers and parts built the `compat32` way: plain strings and `Header`s instead of the default policy's parsed
# header objects, which took two thirds of the CPU of composing and sending a mail (3.3 ms → 1.1 ms per mail).
_UTF8_QP = Charset("utf-8")
_UTF8_QP.header_encoding = QP
_UTF8_QP.body_encoding = QP  # 7-bit clean, so any relay takes it; the default policy chose quoted-printable too


# A participant's mails that give them a place (or its new time or place) carry the activity as a calendar file.
INVITE_STATUSES = frozenset({"confirmed", "promoted", "changed"})


def _pages(kind: str, e: dict[str, Any], links: Links | None) -> dict[str, Any]:
    """The links of the mail's body, each to a page at the front door (None: the mail has none)."""
    found: dict[str, Any] = {"activity_page": None, "order_page": None, "mention_page": None,
                             "preferences_url": links.preferences if links else None}
    if links is None:
        return found
    if kind in ("activity", "signup") and e.get("activity_id"):
        found["activity_page"] = links.page(activity_path(str(e["activity_id"])))
    elif kind == "order" and e.get("order_id"):
        found["order_page"] = links.page(order_path(str(e["order_id"])))
    elif kind == "mention" and e.get("mention_id"):
        found["mention_page"] = links.page(mention_path(str(e["mention_id"])))
    return found


def compose(*, kind: str, event_name: str, data: dict[str, Any], to: str, greeting_name: str | None,
            message_id: str, sender: str, unsubscribe_url: str | None, partner: bool, links: Links | None = None,
            stamp: datetime | None = None) -> Message:
    """One message with a plain-text and an HTML part; non-transactional mail gets RFC 8058 one-click headers.

    `links` makes the body's links (pages at the front door, the contact's preferences page); `stamp` is when the
    event happened, the DTSTAMP of the calendar file a participant's confirmation carries."""
    subject, context = _subject_and_context(kind, event_name, data, partner=partner)
    template = "signup_partner" if kind == "signup" and partner else kind
    pages = _pages(kind, data, links)
    invite = None
    if kind == "signup" and not partner and context.get("status") in INVITE_STATUSES:
        invite = activity_invite(data, page_url=pages["activity_page"], stamp=stamp or datetime.now(AMSTERDAM))
    values = {
        "e": data, "subject": subject, "unsubscribe_url": unsubscribe_url, "invite": invite is not None,
        "greeting": f"Beste {greeting_name}," if greeting_name else "Beste lezer,", **pages, **context,
    }
    if kind == "digest":
        values["items"] = [{**item, "page": links.page(item.get("page")) if links else None}
                           for item in values["items"]]
    text = _env.get_template(f"{template}.txt").render(values)
    html = _env.get_template(f"{template}.html").render(values)
    subject = " ".join(subject.split())  # a line break from event data must not end the header
    headers = {"Subject": subject, "From": sender, "To": to, "Message-ID": message_id, "Content-Language": "nl"}
    if unsubscribe_url:
        headers["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    from_, to_ = _ascii_addresses(sender), _ascii_addresses(to)
    if from_ is None or to_ is None:
        return _compose_smtputf8(headers, text, html, invite)
    body = MIMEMultipart("alternative", boundary=_boundary())
    for content, subtype in ((text, "plain"), (html, "html")):
        part = MIMEText(content, subtype, _UTF8_QP)
        del part["MIME-Version"]  # the message's own is enough
        body.attach(part)
    if invite is None:
        message: MIMEMultipart = body
    else:
        del body["MIME-Version"]
        message = MIMEMultipart("mixed", boundary=_boundary())
        message.attach(body)
        message.attach(_calendar_part(invite))
    for name, value in {**headers, "From": from_, "To": to_}.items():
        if name == "List-Unsubscribe":
            message[name] = _Unfolded(value)  # type: ignore[assignment]
        else:
            message[name] = value if value.isascii() else Header(value, _UTF8_QP, header_name=name)
    return message


def _boundary() -> str:
    """A multipart boundary none of the parts can contain, so the generator need not search them for it (it compiled a
    new regular expression per part: a third of writing a mail out). Every part is quoted-printable or base64, and
    neither can have "=_" in it (RFC 2045: "=" in quoted-printable is always followed by two hex digits or ends the
    line; base64 has neither "=" before data nor "_")."""
    return f"=_{uuid.uuid4().hex}"


def _calendar_part(invite: bytes) -> MIMEBase:
    """`text/calendar; method=PUBLISH` as an attachment, base64 so the file's CRLF line ends arrive unchanged."""
    part = MIMEBase("text", "calendar", charset="utf-8", method="PUBLISH", name=FILENAME)
    del part["MIME-Version"]
    part.set_payload(invite)
    encoders.encode_base64(part)
    part.add_header("Content-Disposition", "attachment", filename=FILENAME)
    return part


class _Unfolded:
    """A header value written on one line (up to SMTP's 998 characters), as compat32 writes a `Header` it is given.

    compat32 folds a long value that has no space by moving all of it to a continuation line; mail programs that
    look for `List-Unsubscribe: <` then miss the one-click link, so the URL stays on the header's line.
    """

    def __init__(self, value: str) -> None:
        self.value = value

    def encode(self, linesep: str = "\n", maxlinelen: int | None = None) -> str:
        return self.value

    def __str__(self) -> str:
        return self.value


def _ascii_addresses(value: str) -> str | None:
    """The address header with display names RFC 2047-encoded; None when an address itself is not ASCII."""
    pairs = getaddresses([value])
    if not all(address.isascii() for _, address in pairs):
        return None
    return ", ".join(formataddr(pair, charset="utf-8") for pair in pairs)


def _compose_smtputf8(headers: dict[str, str], text: str, html: str, invite: bytes | None) -> EmailMessage:
    """An address that is not ASCII needs SMTPUTF8 and raw UTF-8 in the header: the default policy writes that."""
    message = EmailMessage()
    for name, value in headers.items():
        message[name] = value
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    if invite is not None:
        message.add_attachment(invite, maintype="text", subtype="calendar", filename=FILENAME,
                               params={"method": "PUBLISH"})
    return message


def render_page(title: str, message: str, *, confirm: bool) -> str:
    return _env.get_template("unsubscribe.html").render(title=title, message=message, confirm=confirm)




class SendWindowClosed(TimeoutError):
    """A connection's mails go one after the other; one whose turn comes too late to finish within the delivery
    lease is not started (another dispatcher could take the row over meanwhile and send it a second time), nor is one
    whose turn comes after the service was told to stop. The dispatcher hands such a delivery back untried."""


class SMTPUnavailable(aiosmtplib.SMTPConnectError):
    """The relay takes no mail from us at all: no connection, no greeting, STARTTLS or login failed (a rotated
    password), or it refused our sender at MAIL FROM. That says nothing about the message, and the next mail would
    meet the same: the dispatcher defers the mail (tried again later, never failed for it) instead of failing it.

    `step` is where it went wrong (connect, STARTTLS, AUTH, EHLO, MAIL FROM, or "not tried" for the mails of a
    connection that had already failed); `code` the SMTP reply code, when there was one. The server's text is left
    out: it may echo an address.
    """

    def __init__(self, step: str, code: int | None, detail: str) -> None:
        super().__init__(f"SMTP {step}: {detail}")
        self.step = step
        self.code = code


class SMTPUnavailableTimeout(SMTPUnavailable, TimeoutError):
    """`SMTPUnavailable` because the relay did not answer in time while we connected (it is a timeout too)."""


class SomeRecipientsRefused(aiosmtplib.SMTPException):
    """The relay took the message for some of its recipients and refused the others (aiosmtplib raises only when it
    refuses all, `SMTPRecipientsRefused`): `refused` maps each refused address to its reply code."""

    def __init__(self, refused: dict[str, int]) -> None:
        super().__init__(f"refused for {len(refused)} recipients")
        self.refused = refused


class Mailer:
    """SMTP over aiosmtplib: each `session()` is one connection for part of a dispatch round (connect, EHLO and
    QUIT once per session, not per mail); a round opens up to SMTP_CONNECTIONS of them."""

    def __init__(self, *, host: str, port: int, sender: str, username: str | None = None,
                 password: str | None = None, starttls: bool = False, timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self._username = username
        self._password = password
        self._starttls = starttls
        self.timeout = timeout

    def session(self, *, deadline: float | None = None, stopping: asyncio.Event | None = None) -> MailSession:
        """`deadline`: loop time after which no mail is started any more; `stopping`: once set, none either (see
        `SendWindowClosed`)."""
        return MailSession(self, deadline, stopping)

    async def open(self) -> aiosmtplib.SMTP:
        """A connection ready for MAIL FROM. The steps are taken one by one (not by aiosmtplib's `connect()`) so a
        failure says which it was; each raises `SMTPUnavailable`."""
        smtp = aiosmtplib.SMTP(hostname=self.host, port=self.port, start_tls=False, timeout=self.timeout)
        step = "connect"
        try:
            await smtp.connect()
            if self._starttls:
                step = "STARTTLS"
                await smtp.starttls()
            if self._username:
                step = "AUTH"
                await smtp.login(self._username, self._password or "")
        except BaseException as exc:
            smtp.close()
            if not isinstance(exc, Exception):
                raise
            raise _unavailable_at(step, exc) from exc
        return smtp

    async def send(self, message: Message, recipients: Sequence[str] | None = None) -> None:
        """One message on a connection of its own."""
        async with self.session() as session:
            await session.send(message, recipients)


def _unavailable_at(step: str, exc: BaseException) -> SMTPUnavailable:
    """`exc`, met at `step` of getting a connection ready, as what it means for our mail."""
    code = exc.code if isinstance(exc, aiosmtplib.SMTPResponseException) else None
    cls = SMTPUnavailableTimeout if isinstance(exc, TimeoutError) else SMTPUnavailable
    return cls(step, code, f"refused ({code})" if code else type(exc).__name__)


class MailSession:
    """One SMTP connection for (part of) the mails of a dispatch round, opened for the first mail, one at a time.

    Each mail's outcome stays its own: a refused message leaves the connection in use (aiosmtplib resets the
    envelope); a dropped or timed-out connection fails only the mail in flight (it is retried) and the next mail
    connects anew. When the relay takes no mail at all (`SMTPUnavailable`: connect, STARTTLS, AUTH, or our sender
    refused) this connection's remaining mails are not tried either: each would wait for the same refusal.
    """

    def __init__(self, mailer: Mailer, deadline: float | None, stopping: asyncio.Event | None = None) -> None:
        self._mailer = mailer
        self._deadline = deadline
        self._stopping = stopping
        self._sender = parseaddr(mailer.sender)[1] or mailer.sender
        self._smtp: aiosmtplib.SMTP | None = None
        self._unavailable: str | None = None
        self._turn = asyncio.Lock()

    async def __aenter__(self) -> MailSession:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        async with self._turn:
            smtp, self._smtp = self._smtp, None
            if smtp is None or not smtp.is_connected:
                return
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                pass  # every mail is on record already; a lost QUIT changes nothing
            finally:
                smtp.close()

    async def send(self, message: Message, recipients: Sequence[str] | None = None) -> None:
        """Send `message` (to `recipients`, else to its To header). Refused for some recipients but taken for the
        others: `SomeRecipientsRefused`; refused for all: aiosmtplib's `SMTPRecipientsRefused`."""
        async with self._turn:
            if self._unavailable is not None:
                raise SMTPUnavailable("not tried", None, f"no mail taken on this connection ({self._unavailable})")
            if self._stopping is not None and self._stopping.is_set():
                raise SendWindowClosed("the service is stopping; the mail is sent after the restart")
            if self._deadline is not None and asyncio.get_running_loop().time() > self._deadline:
                raise SendWindowClosed("the round's time to send ran out; the mail is retried later")
            connecting = True
            try:
                # One bound for this mail's whole conversation (aiosmtplib's timeout is per command).
                async with asyncio.timeout(self._mailer.timeout):
                    smtp = await self._connected()
                    connecting = False
                    refused, _ = await smtp.send_message(message, sender=self._sender, recipients=recipients)
            except SMTPUnavailable as exc:
                self._unavailable = str(exc)
                raise
            except TimeoutError as exc:
                self._drop()
                if connecting:  # timed out before the relay was ready: no mail of this connection will get further
                    failure = _unavailable_at("connect", exc)
                    self._unavailable = str(failure)
                    raise failure from exc
                raise
            except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPHeloError) as exc:
                # MAIL FROM (a sender the relay no longer takes) or EHLO: the same for every mail of ours.
                failure = _unavailable_at("MAIL FROM" if isinstance(exc, aiosmtplib.SMTPSenderRefused) else "EHLO", exc)
                self._unavailable = str(failure)
                self._drop()
                raise failure from exc
            except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused,
                    aiosmtplib.SMTPNotSupported, ValueError):
                raise  # about this message only; aiosmtplib closes the connection itself on a 421
            except BaseException:
                self._drop()  # state unknown (lost, cancelled): the next mail reconnects
                raise
        if refused:
            raise SomeRecipientsRefused({address: response.code for address, response in refused.items()})

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        self._drop()
        self._smtp = await self._mailer.open()
        return self._smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None


def display(name: str, address: str) -> str:
    return formataddr((name, address))
