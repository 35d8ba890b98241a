"""An organiser who calls an activity off may write why and what instead (registration's signup.cancelled carries
it as `message`); the participants' mail must show those words, escaped in the HTML part."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtplib.email import flatten_message

from komerbij.contracts.events.registration import SignupCancelled
from komerbij.notifications.adapters.mail import compose

from .conftest import signup


def _mail(event: SignupCancelled) -> EmailMessage:
    message = compose(kind="signup", event_name="SignupCancelled", data=event.model_dump(mode="json"),
                      to="p@voorbeeld.example", greeting_name="Mevrouw De Vries", message_id="<m@komerbij.nl>",
                      sender="Week <noreply@w.example>", unsubscribe_url=None, partner=False)
    parsed = message_from_bytes(flatten_message(message), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_the_organisers_message_is_in_the_mail_of_a_called_off_activity() -> None:
    words = "Het waait te hard. Kom op 5 oktober naar de vogelwacht <binnen>."
    event = SignupCancelled(**signup("p@voorbeeld.example").model_dump(), reason="activity_cancelled", message=words)
    mail = _mail(event)
    text = mail.get_body(("plain",)).get_content()
    assert "Bericht van de organisator:" in text and words in text
    html = mail.get_body(("html",)).get_content()
    assert "Kom op 5 oktober naar de vogelwacht &lt;binnen&gt;." in html and "<binnen>" not in html


def test_without_a_message_the_mail_has_no_empty_heading() -> None:
    event = SignupCancelled(**signup("p@voorbeeld.example").model_dump(), reason="activity_cancelled")
    mail = _mail(event)
    assert "Bericht van de organisator" not in mail.get_body(("plain",)).get_content()
    assert "Bericht van de organisator" not in mail.get_body(("html",)).get_content()
