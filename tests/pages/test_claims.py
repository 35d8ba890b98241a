"""How an issuer's claims become a Principal, for bearer tokens and for people logged in on the pages alike."""

from __future__ import annotations

import pytest

from komerbij.runtime.auth import principal_from_claims, role_of
from komerbij.runtime.http import ProblemError
from komerbij.runtime.web.session import User


def test_the_role_claim_comes_first() -> None:
    assert role_of({"role": "moderator", "realm_access": {"roles": ["admin"]}}) == "moderator"


def test_an_issuer_with_realm_roles_instead_gives_the_komerbij_role_admin_first() -> None:
    assert role_of({"realm_access": {"roles": ["offline_access", "comms"]}}) == "comms"
    assert role_of({"realm_access": {"roles": ["comms", "admin"]}}) == "admin"
    assert role_of({"role": "superuser", "realm_access": {"roles": ["uma_authorization"]}}) is None


def test_a_token_without_a_known_role_is_refused() -> None:
    with pytest.raises(ProblemError) as refused:
        principal_from_claims({"sub": "x", "role": "superuser"})
    assert refused.value.status == 401


def test_municipality_and_partner_are_read_as_keycloak_writes_them() -> None:
    p = principal_from_claims({"sub": "e41f", "role": "organiser", "municipality": "GM0363", "partner": ""})
    assert (p.subject, p.role, p.municipality, p.partner) == ("e41f", "organiser", "GM0363", None)


def test_the_header_describes_a_person_in_dutch() -> None:
    assert User("s", "Anna de Vries", "organiser", "GM0363").description == "organisator, Amsterdam"
    assert User("s", "Dirk Visser", "organiser", partner="ouderenfonds").description == "organisator, ouderenfonds"
    assert User("s", "Gerrit Mulder", "fulfilment").description == "magazijn"
    assert User("s", "Iemand", None).principal is None  # no komerbij role: logged in, but no room opens
