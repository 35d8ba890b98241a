"""The Mailer against a real SMTP server (aiosmtpd): one connection per dispatch round, failures kept per mail."""

from __future__ import annotations

import asyncio
import uuid

import aiosmtplib

from komerbij.devtools.processes import free_port
from komerbij.notifications.adapters.mail import Mailer, SendWindowClosed, compose

from .conftest import activity
from .receivers import MailSink

SENDER = "Week tegen Eenzaamheid <noreply@weektegeneenzaamheid.nl>"


def mailer(port: int, timeout: float = 5.0) -> Mailer:
    return Mailer(host="127.0.0.1", port=port, sender=SENDER, timeout=timeout)


def mails(n: int, tag: str) -> list:
    data = activity("GM0363", title=f"Samen eten {tag}").model_dump(mode="json")
    return [compose(kind="activity", event_name="ActivityPublished", data=data, to=f"{tag}-{i}@voorbeeld.example",
                    greeting_name=None, message_id=f"<{uuid.uuid4().hex}@komerbij.nl>", sender=SENDER,
                    unsubscribe_url=f"http://notifications.test/unsubscribe/{tag}{i}", partner=True)
            for i in range(n)]


async def send_round(m: Mailer, messages: list, **session: float) -> list[BaseException | None]:
    """As the dispatcher does: every mail of the round at once, each outcome its own."""
    async with m.session(**session) as s:
        return await asyncio.gather(*(s.send(message) for message in messages), return_exceptions=True)


async def test_a_round_of_five_mails_uses_one_smtp_connection_and_keeps_each_message_id(mail: MailSink) -> None:
    tag = uuid.uuid4().hex[:8]
    messages = mails(5, tag)
    before = mail.connections
    assert await send_round(mailer(mail.port), messages) == [None] * 5
    assert mail.connections - before == 1
    for i, sent in enumerate(messages):
        received = mail.for_address(f"{tag}-{i}@voorbeeld.example")
        assert [m["Message-ID"] for m in received] == [sent["Message-ID"]]


async def test_a_connection_lost_mid_round_fails_only_the_mail_in_flight_and_the_rest_reconnect(
    mail: MailSink,
) -> None:
    tag = uuid.uuid4().hex[:8]
    messages = mails(5, tag)
    mail.drop_once.add(f"{tag}-2@voorbeeld.example")
    before = mail.connections
    outcomes = await send_round(mailer(mail.port), messages)
    assert isinstance(outcomes[2], aiosmtplib.SMTPServerDisconnected)
    assert outcomes[:2] == [None, None] and outcomes[3:] == [None, None]
    assert mail.connections - before == 2
    assert [len(mail.for_address(f"{tag}-{i}@voorbeeld.example")) for i in range(5)] == [1, 1, 0, 1, 1]
    # The retry goes out with the Message-ID the first attempt carried.
    assert await send_round(mailer(mail.port), [messages[2]]) == [None]
    assert mail.for_address(f"{tag}-2@voorbeeld.example")[0]["Message-ID"] == messages[2]["Message-ID"]


async def test_a_refused_recipient_fails_its_own_mail_only_on_the_same_connection(mail: MailSink) -> None:
    tag = uuid.uuid4().hex[:8]
    messages = mails(3, tag)
    mail.refuse.add(f"{tag}-0@voorbeeld.example")
    before = mail.connections
    outcomes = await send_round(mailer(mail.port), messages)
    assert isinstance(outcomes[0], aiosmtplib.SMTPRecipientsRefused) and outcomes[1:] == [None, None]
    assert mail.connections - before == 1


async def test_an_unreachable_server_fails_the_round_after_one_connect() -> None:
    port = free_port()  # nobody listens
    outcomes = await send_round(mailer(port), mails(4, "weg"))
    assert all(isinstance(o, aiosmtplib.SMTPConnectError) for o in outcomes), outcomes
    assert "not tried" not in str(outcomes[0]) and all("not tried" in str(o) for o in outcomes[1:])


async def test_a_server_that_never_answers_costs_the_round_one_timeout_not_one_per_mail() -> None:
    silent: list[asyncio.StreamWriter] = []
    server = await asyncio.start_server(lambda _, w: silent.append(w), "127.0.0.1", 0)  # accepts, never greets
    port = server.sockets[0].getsockname()[1]
    try:
        outcomes = await send_round(mailer(port, timeout=0.5), mails(3, "stil"))
    finally:
        for writer in silent:
            writer.close()
        server.close()
    assert isinstance(outcomes[0], TimeoutError) and not isinstance(outcomes[0], SendWindowClosed)
    # The other mails did not each connect and wait out a timeout of their own: they were not tried at all.
    assert all(isinstance(o, aiosmtplib.SMTPConnectError) and "not tried" in str(o) for o in outcomes[1:]), outcomes
    assert len(silent) == 1, "one connection was opened for the whole round"


async def test_no_mail_is_started_after_the_rounds_deadline(mail: MailSink) -> None:
    tag = uuid.uuid4().hex[:8]
    before = mail.connections
    past = asyncio.get_running_loop().time() - 1
    outcomes = await send_round(mailer(mail.port), mails(2, tag), deadline=past)
    assert all(isinstance(o, SendWindowClosed) for o in outcomes)
    assert mail.connections == before and mail.for_address(f"{tag}-0@voorbeeld.example") == []
