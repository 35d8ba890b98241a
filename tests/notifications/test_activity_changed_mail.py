"""The participant's mail about an approved new time or place (issue 14), with a working cancel link (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtplib.email import flatten_message

from komerbij.contracts.events.registration import SignupActivityChanged, cancel_token
from komerbij.notifications.adapters.mail import compose
from komerbij.notifications.domain.routing import audience_of, participant_view, partner_view

from .conftest import signup


def test_a_participant_is_told_the_new_time_with_a_cancel_link_and_no_partner_is() -> None:
    base = signup("p@voorbeeld.example").model_dump()
    base["cancel_url"] = f"https://agenda.example.nl/v1/signups/{base['signup_id']}/cancel"
    event = SignupActivityChanged(**{**base, "starts_at": datetime(2026, 10, 3, 8, 30, tzinfo=UTC)},
                                  changed_fields=["starts_at", "ends_at"])
    audience = audience_of(event)
    assert audience is not None and [m.address for m in audience.direct] == ["p@voorbeeld.example"]

    data = participant_view(event.model_dump(mode="json"), "k")
    raw = flatten_message(compose(kind="signup", event_name="SignupActivityChanged", data=data,
                                  to="p@voorbeeld.example", greeting_name="Mevrouw De Vries",
                                  message_id="<c@komerbij.nl>", sender="Week <noreply@w.example>",
                                  unsubscribe_url=None, partner=False))
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    text = message.get_body(("plain",)).get_content()
    assert message["Subject"] == "Gewijzigde tijd of plaats: Koffie & ontmoeting"
    assert "is gewijzigd" in text and "zaterdag 3 oktober 2026 om 10:30" in text
    assert f"{event.cancel_url}?token={cancel_token('k', event.signup_id)}" in text
    assert "cancel_url" not in partner_view(event)
