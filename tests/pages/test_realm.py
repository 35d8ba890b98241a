"""The realm file Keycloak imports (deploy/keycloak/komerbij-realm.json), read without starting Keycloak."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from komerbij.devtools.keycloak import keycloak_version, realm_file
from komerbij.runtime.auth import ROLES

ROOT = Path(__file__).resolve().parents[2]
REALM = json.loads(realm_file().read_text())
README = (ROOT / "README.md").read_text()


def test_the_readme_lists_exactly_the_realms_demo_accounts_with_their_claims() -> None:
    listed = {m[0]: (m[1], m[2], m[3]) for m in
              re.findall(r"^\| `([a-z0-9-]+)` \| (\w+) \| (GM\d{4}|—) \| ([\w-]+|—) \|", README, flags=re.M)}
    in_realm = {u["username"]: (u["attributes"]["role"][0], u["attributes"].get("municipality", ["—"])[0],
                                u["attributes"].get("partner", ["—"])[0]) for u in REALM["users"]}
    assert listed == in_realm


def test_every_demo_account_has_a_known_role_and_the_password_komerbij() -> None:
    for user in REALM["users"]:
        assert user["attributes"]["role"][0] in ROLES
        assert user["credentials"] == [{"type": "password", "value": "komerbij", "temporary": False}]
        assert user["email"].endswith("@example.org")  # a reserved domain: no mail can reach anyone


def test_the_pages_client_requires_pkce_and_takes_no_passwords() -> None:
    web = next(c for c in REALM["clients"] if c["clientId"] == "komerbij-web")
    assert web["attributes"]["pkce.code.challenge.method"] == "S256"
    assert web["standardFlowEnabled"] and not web["directAccessGrantsEnabled"] and not web["implicitFlowEnabled"]
    assert all(uri.startswith(("http://127.0.0.1/", "http://localhost/")) for uri in web["redirectUris"])


def test_both_clients_put_role_municipality_and_partner_into_the_tokens() -> None:
    for client in REALM["clients"]:
        claims = {m["config"].get("claim.name") for m in client["protocolMappers"]}
        assert {"role", "municipality", "partner"} <= claims, client["clientId"]


def test_compose_runs_the_keycloak_version_make_run_fetches_with_the_same_realm() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["keycloak"]
    assert compose["image"] == f"keycloak/keycloak:{keycloak_version()}"
    assert any(v.startswith("./deploy/keycloak/komerbij-realm.json:") for v in compose["volumes"])
