"""Unit tests of the pure rules: signatures, tokens, retry schedule, routing, digest time (no I/O)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage, Message

import pytest
from aiosmtplib.email import flatten_message
from pydantic import ValidationError

from komerbij.contracts.events.materials import StockLow
from komerbij.contracts.events.media import MentionRecorded
from komerbij.contracts.events.registration import SignupCancelled
from komerbij.notifications.adapters import mail
from komerbij.notifications.adapters.mail import compose, datum
from komerbij.notifications.domain.digest import due_digest_day
from komerbij.notifications.domain.partners import PartnerRuleError, Subscription, check_partner
from komerbij.notifications.domain.retries import parse_schedule, retry_delay
from komerbij.notifications.domain.routing import audience_of, partner_view
from komerbij.notifications.domain.signatures import (
    address_hash,
    contact_of_token,
    secret_key,
    unsubscribe_token,
    webhook_signature,
)
from komerbij.notifications.settings import Settings

from .conftest import activity, signup


def wire(message: Message) -> EmailMessage:
    """The message as the receiving mail program reads it (what goes over SMTP, parsed back)."""
    return message_from_bytes(flatten_message(message), policy=policy.default)  # type: ignore[return-value]


def test_webhook_signature_matches_the_standard_webhooks_test_vector() -> None:
    # The example from the Standard Webhooks specification.
    signature = webhook_signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                  1614265330, b'{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.parametrize("secret", ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not*base64", "whsec_c2hvcnQ="])
def test_secrets_that_are_not_whsec_base64_of_enough_bytes_are_refused(secret: str) -> None:
    with pytest.raises(ValueError):
        secret_key(secret)


def test_unsubscribe_token_names_its_contact_and_a_tampered_one_names_nobody() -> None:
    token = unsubscribe_token("s3cret", "2d7c1f0e-0000-4000-8000-000000000001")
    assert contact_of_token("s3cret", token) == "2d7c1f0e-0000-4000-8000-000000000001"
    assert contact_of_token("other", token) is None
    assert contact_of_token("s3cret", token[:-2] + ("AA" if not token.endswith("AA") else "BB")) is None
    assert contact_of_token("s3cret", "garbage") is None


def test_address_hash_ignores_case_and_spaces_but_not_the_key() -> None:
    assert address_hash("k", " Kim@Example.org ") == address_hash("k", "kim@example.org")
    assert address_hash("k", "kim@example.org") != address_hash("other", "kim@example.org")


def test_retry_waits_follow_the_schedule_within_the_jitter_and_end_with_it() -> None:
    schedule = parse_schedule("5s, 5m, 2h")
    assert schedule == (timedelta(seconds=5), timedelta(minutes=5), timedelta(hours=2))
    rand = random.Random(7)
    waits = [retry_delay(schedule, attempt, 0.2, rand) for attempt in (1, 2, 3)]
    for wait, planned in zip(waits, schedule, strict=True):
        assert wait is not None and planned * 0.8 <= wait <= planned * 1.2
    assert retry_delay(schedule, 4, 0.2, rand) is None
    spread = {retry_delay(schedule, 1, 0.2, rand) for _ in range(20)}
    assert len(spread) > 1, "jitter spreads retries"
    with pytest.raises(ValueError):
        parse_schedule("5 minutes")


def test_a_subscription_matches_by_municipality_or_province_and_an_empty_filter_means_everywhere() -> None:
    by_code = Subscription("p", ("ActivityPublished",), ("GM0363",), (), "immediate")
    by_province = Subscription("p", ("ActivityPublished",), (), ("Utrecht",), "immediate")
    national = Subscription("p", ("ActivityPublished",), (), (), "digest")
    assert by_code.matches("ActivityPublished", {"GM0363"}, {"Noord-Holland"})
    assert not by_code.matches("ActivityCancelled", {"GM0363"}, {"Noord-Holland"})
    assert not by_code.matches("ActivityPublished", {"GM0344"}, {"Utrecht"})
    assert by_province.matches("ActivityPublished", {"GM0344"}, {"Utrecht"})
    assert national.matches("ActivityPublished", set(), set())


def test_audience_finds_the_province_of_a_municipality_and_keeps_participant_details_from_partners() -> None:
    published = audience_of(activity("GM0344"))
    assert published is not None and published.by_place
    assert published.municipalities == {"GM0344"} and published.provinces == {"Utrecht"}
    event = signup("deelnemer@voorbeeld.example", owner_partner_id="humanitas")
    audience = audience_of(event)
    assert audience is not None and audience.owner_partner_id == "humanitas" and not audience.by_place
    assert [d.recipient for d in audience.direct] == ["participant"]
    view = partner_view(event)
    assert "email" not in view and "cancel_url" not in view and view["name"] == "Mevrouw De Vries"
    nowhere = MentionRecorded(mention_id="m", title="t", url=None, outlet_id="o", outlet_name="Trouw",
                              medium="print", scope="national", published_at=datetime.now(UTC), municipalities=[])
    assert audience_of(nowhere) is None
    stock = audience_of(StockLow(sku="POSTER", name="Posters", stock_on_hand=1, reserved=0, threshold=5))
    assert stock is not None and [d.recipient for d in stock.direct] == ["admins"]


def test_only_national_partners_have_a_sector_and_a_municipality_partner_needs_a_known_code() -> None:
    check_partner("national_partner", "zorg en welzijn", None, True)
    with pytest.raises(PartnerRuleError) as sector:
        check_partner("welfare", "sport", None, True)
    assert sector.value.field == "sector"
    with pytest.raises(PartnerRuleError) as code:
        check_partner("municipality", None, "GM9999", False)
    assert code.value.field == "municipality"


def test_digest_is_due_from_the_amsterdam_wall_clock_time_in_summer_and_winter() -> None:
    at = time(8, 0)
    assert due_digest_day(datetime(2026, 7, 1, 5, 59, tzinfo=UTC), at) is None  # 07:59 CEST
    assert due_digest_day(datetime(2026, 7, 1, 6, 0, tzinfo=UTC), at) == date(2026, 7, 1)  # 08:00 CEST
    assert due_digest_day(datetime(2026, 12, 1, 6, 30, tzinfo=UTC), at) is None  # 07:30 CET
    assert due_digest_day(datetime(2026, 12, 1, 7, 0, tzinfo=UTC), at) == date(2026, 12, 1)


def test_partner_mail_has_dutch_parts_and_one_click_headers_and_dates_in_dutch_time() -> None:
    data = activity("GM0363", title="Samen eten").model_dump(mode="json")
    message = wire(compose(kind="activity", event_name="ActivityPublished", data=data, to="a@b.example",
                           greeting_name="Kim", message_id="<x@komerbij.nl>", sender="Week <noreply@w.example>",
                           unsubscribe_url="https://n.example/unsubscribe/t", partner=True))
    assert message["Subject"] == "Nieuwe activiteit in Amsterdam: Samen eten"
    assert message["List-Unsubscribe"] == "<https://n.example/unsubscribe/t>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",)).get_content()
    assert "Beste Kim," in text and "donderdag 1 oktober 2026 om 14:00" in text
    assert "Afmelden" in message.get_body(("html",)).get_content()
    assert datum("2026-12-24T18:30:00+00:00") == "donderdag 24 december 2026 om 19:30"


def test_a_delivery_lease_shorter_than_a_send_is_refused_at_start() -> None:
    base = {"database_url": "postgresql://x/y", "kafka_bootstrap_servers": "k:9092", "jwt_secret": "s"}
    assert Settings(**base).delivery_lease_seconds > Settings(**base).webhook_timeout_seconds
    with pytest.raises(ValidationError, match="DELIVERY_LEASE_SECONDS"):
        Settings(**base, delivery_lease_seconds=5)
    with pytest.raises(ValidationError, match="not a duration"):
        Settings(**base, webhook_retry_schedule="soon")


def test_a_participant_whose_activity_is_called_off_is_told_so_and_gets_no_cancel_link() -> None:
    event = SignupCancelled(**signup("p@voorbeeld.example").model_dump(), reason="activity_cancelled")
    message = wire(compose(kind="signup", event_name="SignupCancelled", data=event.model_dump(mode="json"),
                           to="p@voorbeeld.example", greeting_name="Mevrouw De Vries", message_id="<y@komerbij.nl>",
                           sender="Week <noreply@w.example>", unsubscribe_url=None, partner=False))
    text = message.get_body(("plain",)).get_content()
    assert message["Subject"] == "Uw aanmelding is geannuleerd: Koffie & ontmoeting"
    assert "Deze activiteit gaat helaas niet door" in text and event.cancel_url not in text
    assert "Deze activiteit gaat helaas niet door" in message.get_body(("html",)).get_content()


def test_mail_headers_stay_7_bit_with_dutch_characters_and_a_line_break_in_a_title_adds_no_header() -> None:
    data = activity("GM0363", title="Eén tegen eenzaamheid –\r\nBcc: iemand@anders.example").model_dump(mode="json")
    message = compose(kind="activity", event_name="ActivityPublished", data=data, to="a@b.example, c@d.example",
                      greeting_name="Kim", message_id="<z@komerbij.nl>", sender="Eén tegen Eenzaamheid <n@w.example>",
                      unsubscribe_url="https://n.example/unsubscribe/t", partner=True)
    head, _, _ = flatten_message(message).partition(b"\n\n")
    assert head.isascii() and b"\nBcc:" not in head
    parsed = wire(message)
    assert parsed["Subject"] == "Nieuwe activiteit in Amsterdam: Eén tegen eenzaamheid – Bcc: iemand@anders.example"
    assert parsed["Bcc"] is None and parsed["Message-ID"] == "<z@komerbij.nl>"
    assert parsed["From"].addresses[0].display_name == "Eén tegen Eenzaamheid"
    assert [a.addr_spec for a in parsed["To"].addresses] == ["a@b.example", "c@d.example"]
    assert parsed["Content-Language"] == "nl"
    assert "Eén tegen eenzaamheid" in parsed.get_body(("plain",)).get_content()


def test_a_long_one_click_link_stays_on_the_list_unsubscribe_line() -> None:
    url = "https://meldingen.weektegeneenzaamheid.nl/unsubscribe/" + "A" * 48 + "." + "b" * 22
    message = compose(kind="stock", event_name="StockLow", data={"name": "Placemats", "sku": "P", "stock_on_hand": 1,
                                                                 "reserved": 0, "threshold": 5},
                      to="a@b.example", greeting_name=None, message_id="<s@komerbij.nl>", sender="W <n@w.example>",
                      unsubscribe_url=url, partner=True)
    raw = flatten_message(message)
    assert f"List-Unsubscribe: <{url}>".encode() in raw.splitlines()
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw.splitlines()


def test_a_recipient_address_that_is_not_ascii_is_written_as_utf_8_for_smtputf8() -> None:
    message = compose(kind="signup", event_name="SignupConfirmed", data=signup("jöran@voorbeeld.example").model_dump(
        mode="json"), to="jöran@voorbeeld.example", greeting_name=None, message_id="<u@komerbij.nl>",
        sender="W <n@w.example>", unsubscribe_url=None, partner=False)
    assert "To: jöran@voorbeeld.example" in flatten_message(message, utf8=True).decode().splitlines()


def test_a_consumer_only_replica_has_no_dispatcher_but_keeps_its_other_jobs() -> None:
    from komerbij.notifications.app import build_spec

    newsletter = ["newsletter-pace", "newsletter-progress"]  # they make deliveries and report; they send nothing
    assert [j.name for j in build_spec().jobs] == ["dispatch", "digest", "privacy-purge", *newsletter]
    assert [j.name for j in build_spec(dispatch=False).jobs] == ["digest", "privacy-purge", *newsletter]
    env = {"DATABASE_URL": "postgresql://x/y", "KAFKA_BOOTSTRAP_SERVERS": "k:9092", "JWT_SECRET": "s",
           "UNSUBSCRIBE_SECRET": "u", "DISPATCH_ENABLED": "false"}
    assert Settings(**{k.lower(): v for k, v in env.items()}).dispatch_enabled is False


def test_a_boundary_written_in_the_event_data_does_not_cut_the_mail(monkeypatch: pytest.MonkeyPatch) -> None:
    """The multipart boundaries are chosen, not searched for (`mail._boundary`): safe only because no part can carry
    "=_". A title that holds the very boundary, on a line of its own, stays text of the mail."""
    known = [uuid.UUID(int=0x5EED), uuid.UUID(int=0xB0B)]
    lines = "\n".join(f"--=_{u.hex}{end}" for u in known for end in ("", "--"))
    event = signup("p@voorbeeld.example").model_copy(update={"activity_title": f"Koffie\n{lines}"})
    chosen = iter(known)
    monkeypatch.setattr(mail.uuid, "uuid4", lambda: next(chosen))  # the boundaries, outer first
    message = wire(compose(kind="signup", event_name="SignupConfirmed", data=event.model_dump(mode="json"),
                           to="p@voorbeeld.example", greeting_name="Mevrouw De Vries", message_id="<b@komerbij.nl>",
                           sender="Week <noreply@w.example>", unsubscribe_url=None, partner=False))
    written = flatten_message(message)
    assert all(f"--=_{u.hex}".encode() in written for u in known) and not message.defects
    assert [p.get_content_type() for p in message.walk()] == [
        "multipart/mixed", "multipart/alternative", "text/plain", "text/html", "text/calendar"]
    assert f"Koffie\n{lines}" in message.get_body(("plain",)).get_content()
    assert f"--=_{known[1].hex}--" in message.get_body(("html",)).get_content()
