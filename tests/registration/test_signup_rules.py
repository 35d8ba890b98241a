"""Unit tests of the sign-up rules against abuse (no I/O): names without links, keys of addresses and numbers."""

from __future__ import annotations

import pytest

from komerbij.registration.domain.signup import check_name, email_key, phone_key
from komerbij.registration.domain.violations import RuleViolation


def test_names_people_have_are_fine() -> None:
    for name in ("Truus", "Zoë van der Berg-de Vries", "J.P. de Vries", "Ch.Ph. Jansen", "Th.J. ten Brink",
                 "Jan & Marie", "Mw. A.M. O'Neill", "Deelnemer 12", "Ömer Yılmaz", "Familie (3 personen)"):
        assert check_name(name) == name
    with pytest.raises(RuleViolation):
        check_name("Ab.nl.")


def test_keys_fold_what_reaches_one_mailbox_or_phone() -> None:
    assert email_key("Truus+Week@Example.NL ") == "truus@example.nl"
    assert email_key(None) is None
    assert {phone_key(p) for p in ("06 12345678", "+31 6 12345678", "0031612345678", "+31 (0)6-1234 5678")} == {
        "0612345678"}
    assert phone_key("+32 470 12 34 56") == "0032470123456"
    assert phone_key(None) is None
