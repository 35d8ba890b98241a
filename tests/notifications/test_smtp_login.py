"""Mail through a relay that wants STARTTLS and a login (SMTP_STARTTLS, SMTP_USERNAME, SMTP_PASSWORD), as a real
provider does: aiosmtpd with a certificate of the test's own, which the service trusts through SSL_CERT_FILE."""

from __future__ import annotations

import ipaddress
import ssl
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from support.infra import Infra

from .conftest import Publisher, deliveries_of, notifications, settle, signup
from .receivers import MailSink

USER, PASSWORD = "komerbij", "relay-password-for-tests"


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the address the service connects to)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "komerbij test relay")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "relay.pem", folder / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _authenticator(server: object, session: object, envelope: object, mechanism: str, data: object) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, auth_data=data if ok else None, handled=False)


@pytest.fixture
def relay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MailSink]:
    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the service's TLS trusts this relay, and only it
    sink = MailSink(tls_context=context, require_starttls=True, auth_required=True, auth_require_tls=True,
                    authenticator=_authenticator).start()
    yield sink
    sink.stop()


@pytest.mark.parametrize(("settings", "delivered", "error"), [
    ({"SMTP_STARTTLS": "true", "SMTP_USERNAME": USER, "SMTP_PASSWORD": PASSWORD}, True, None),
    ({"SMTP_STARTTLS": "true", "SMTP_USERNAME": USER, "SMTP_PASSWORD": "wrong"}, False, "SMTP 535"),
    ({"SMTP_STARTTLS": "true"}, False, "SMTP 530"),  # no login where the relay wants one
    # No STARTTLS: the relay offers no AUTH on a plain connection, so the login cannot even be tried (retried once,
    # then failed: the retry schedule here is one step).
    ({"SMTP_USERNAME": USER, "SMTP_PASSWORD": PASSWORD}, False, "SMTPException"),
], ids=["starttls-and-login", "wrong-password", "no-login", "no-starttls"])
async def test_mail_goes_out_over_starttls_with_the_configured_login_and_not_without(
    infra: Infra, relay: MailSink, publisher: Publisher, settings: dict[str, str], delivered: bool, error: str | None
) -> None:
    participant = f"deelnemer-{uuid.uuid4().hex[:6]}@voorbeeld.example"
    async with notifications(infra, relay, MAIL_RETRY_SCHEDULE="0.1s", RETRY_JITTER="0", **settings) as svc:
        event_id = await publisher.publish(signup(participant))
        await settle(infra, svc)
        [delivery] = await deliveries_of(svc.client, event_id)
    if delivered:
        assert delivery["status"] == "delivered"
        assert [rcpts for rcpts, _ in relay.messages] == [[participant]]
        assert relay.sessions == [(True, USER)]  # over TLS, logged in as the configured user
    else:
        assert delivery["status"] == "failed" and relay.messages == []
        assert delivery["last_error"] == error
