"""Issue 19, row 8 and "What to build" 2 and 5: a DIVOC deployment keeps its Keycloak realm.

DIVOC's tokens carry DIVOC's roles: a tenant's realm role ``<user>-realm-role``
(vc-management-service/src/utils/tenant.utils.js, ROLE_SUFFIX in configs/constants.js), which the
management service writes into each schema it creates (``_osConfig.roles``,
middleware/role-add.middleware.js) and the Sunbird RC registry compares with the token's realm
roles before it certifies; and the ``admin-api`` client's ``api`` role
(middleware/auth.middleware.js, roleAuthorizer: ``resource_access["admin-api"].roles``). A roles
mapping makes vccore read them; the tokens here are signed (RS256, EdDSA) by keys made here.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("jwt")
pytest.importorskip("starlette")

import jwt
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from vccore import Ed25519Key, bundled_entity_types, open_store
from vccore.errors import AuthError
from vccore.http import create_app
from vccore.http.auth import (
    EntityAuthorizer,
    JwtAuthorizer,
    RoleMapping,
    StaticTokenAuthorizer,
    _matches,
    authorize,
)
from vccore.issuer import Issuer

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ED_KEY = ed25519.Ed25519PrivateKey.generate()
JWKS = {
    "keys": [
        {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key())), "kid": "rsa-1", "use": "sig"},
        {**json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(ED_KEY.public_key())), "kid": "ed-1", "use": "sig"},
    ]
}
REALM = "https://keycloak.example/auth/realms/sunbird-rc"

COUNCIL = "council@health.example"  # the tenant whose schema is HealthProfessional
MINISTRY = "ministry@vaccines.example"  # the tenant whose schema is VaccinationCertificate

# DIVOC's realm, as docs/http.md gives it: the example the docs name
DIVOC_REALM: dict[str, Any] = {
    "claims": ["realm_access.roles", "resource_access.admin-api.roles"],
    "roles": {
        "api": ["certify", "revoke", "read", "manage"],
        "*-realm-role": {"permissions": ["certify", "revoke", "read", "manage"], "entityTypes": "listed"},
    },
    "entityTypes": {
        "HealthProfessional": [f"{COUNCIL}-realm-role"],
        "VaccinationCertificate": [f"{MINISTRY}-realm-role"],
    },
}
KEYCLOAK_DEFAULTS = ["default-roles-sunbird-rc", "offline_access", "uma_authorization"]


def keycloak_token(
    *,
    realm_roles: list[str] = KEYCLOAK_DEFAULTS,
    clients: dict[str, list[str]] | None = None,
    username: str = COUNCIL,
    ed: bool = False,
    **claims: Any,
) -> str:
    """An access token as Keycloak makes it: realm roles, client roles, the OIDC scopes."""
    now = int(time.time())
    body = {
        "iss": REALM,
        "sub": f"user-{username}",
        "iat": now,
        "exp": now + 300,
        "azp": "registry-frontend",
        "preferred_username": username,
        "scope": "profile email",
        "realm_access": {"roles": realm_roles},
        "resource_access": {
            "account": {"roles": ["manage-account", "view-profile"]},
            **{client: {"roles": roles} for client, roles in (clients or {}).items()},
        },
        **claims,
    }
    if ed:
        return jwt.encode(body, ED_KEY, algorithm="EdDSA", headers={"kid": "ed-1"})
    return jwt.encode(body, RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})


def tenant(name: str, **options: Any) -> str:
    """A tenant user's token: the realm role the management service gave the tenant."""
    return keycloak_token(realm_roles=[*KEYCLOAK_DEFAULTS, f"{name}-realm-role"], username=name, **options)


def admin() -> str:
    """The admin-api client's token, made when a test asks (a token made at import would expire
    before the tests of a slow run reach it: it lives 300 s)."""
    return keycloak_token(clients={"admin-api": ["api"]}, username="service-account-admin-api")


def divoc_authorizer(mapping: dict[str, Any] = DIVOC_REALM) -> JwtAuthorizer:
    return JwtAuthorizer(JWKS, issuer=REALM, roles=RoleMapping.from_dict(mapping))


def refusal(call: Any) -> AuthError:
    with pytest.raises(AuthError) as caught:
        call()
    return caught.value


# --- the authorizer ------------------------------------------------------------------------------


def test_the_admin_api_clients_api_role_grants_every_permission_on_every_entity_type() -> None:
    authorizer = divoc_authorizer()
    for scope in ("certify", "revoke", "read"):
        assert authorizer.check(admin(), scope) == "user-service-account-admin-api"
        for entity in ("HealthProfessional", "VaccinationCertificate", "AnyOtherType"):
            assert authorizer.check_entity(admin(), scope, entity)


def test_a_tenants_role_reaches_its_own_entity_types_only() -> None:
    authorizer = divoc_authorizer()
    council = tenant(COUNCIL, ed=True)  # EdDSA, as a realm with an Ed25519 key signs
    for scope in ("certify", "revoke", "read"):
        assert authorizer.check_entity(council, scope, "HealthProfessional") == f"user-{COUNCIL}"
        error = refusal(lambda scope=scope: authorizer.check_entity(council, scope, "VaccinationCertificate"))
        assert error.status == 403 and error.code == "FORBIDDEN"
        assert error.details == {"scope": scope, "entity": "VaccinationCertificate"}
        assert "VaccinationCertificate" in error.message and "HealthProfessional" in error.message
        assert f'"{COUNCIL}-realm-role"' in error.message
        assert error.www_authenticate() == f'Bearer error="insufficient_scope", scope="{scope}"'
    # the other tenant, the other way round
    ministry = tenant(MINISTRY)
    assert authorizer.check_entity(ministry, "certify", "VaccinationCertificate")
    assert refusal(lambda: authorizer.check_entity(ministry, "certify", "HealthProfessional")).status == 403
    # a call that names no entity type asks whether the role grants the permission anywhere
    assert authorizer.check(ministry, "read") == f"user-{MINISTRY}"


def test_a_tenant_whose_role_no_entity_type_lists_may_only_make_its_first_schema() -> None:
    # a tenant created in Keycloak before any schema names its role: "*-realm-role" matches, but
    # a "listed" grant reaches no entity type, so it certifies, revokes and reads nothing (never
    # everything); it may make its first schema (manage), which lists its role
    newcomer = tenant("newcomer@clinic.example")
    for scope in ("certify", "revoke", "read"):
        error = refusal(lambda scope=scope: divoc_authorizer().check(newcomer, scope))  # type: ignore[misc]
        assert error.status == 403 and "grant manage" in error.message
    assert divoc_authorizer().check(newcomer, "manage")


def test_a_token_without_a_mapped_role_is_forbidden_and_told_its_roles() -> None:
    authorizer = divoc_authorizer()
    plain = keycloak_token()
    error = refusal(lambda: authorizer.check(plain, "certify"))
    assert error.status == 403 and error.details == {"scope": "certify"}
    assert '"default-roles-sunbird-rc"' in error.message and "--roles" in error.message
    # "api" counts from the admin-api client only (DIVOC's roleAuthorizer), not from another client
    other_client = keycloak_token(clients={"registry-frontend": ["api"]})
    assert refusal(lambda: authorizer.check(other_client, "certify")).status == 403
    # a realm role that merely ends like a tenant's is not a tenant's without a name before it
    assert refusal(lambda: authorizer.check(keycloak_token(realm_roles=["-realm-role"]), "read")).status == 403


def test_with_a_mapping_vccores_own_scope_words_grant_nothing_and_without_one_they_still_do() -> None:
    words = keycloak_token(scope="certify revoke read", realm_roles=["certify", "revoke", "read"])
    assert refusal(lambda: divoc_authorizer().check(words, "certify")).status == 403
    unmapped = JwtAuthorizer(JWKS, issuer=REALM)
    assert unmapped.check(words, "certify") == f"user-{COUNCIL}"
    # without a mapping nothing is limited to entity types: the behaviour before mappings
    assert unmapped.check_entity(words, "revoke", "VaccinationCertificate") == f"user-{COUNCIL}"
    assert refusal(lambda: unmapped.check(tenant(COUNCIL), "certify")).status == 403


def test_a_role_can_name_its_entity_types_and_a_claim_can_be_a_scope_string() -> None:
    mapping = {
        "claims": ["scope", ["resource_access", "vc.issuer", "roles"]],  # a client id with a dot: a list
        "roles": {
            "issue-hp": {"permissions": ["certify"], "entityTypes": ["HealthProfessional"]},
            "auditor": ["read"],
        },
    }
    authorizer = divoc_authorizer(mapping)
    hp = keycloak_token(scope="openid issue-hp")
    assert authorizer.check_entity(hp, "certify", "HealthProfessional")
    assert refusal(lambda: authorizer.check_entity(hp, "certify", "VaccinationCertificate")).status == 403
    assert refusal(lambda: authorizer.check(hp, "read")).status == 403
    auditor = keycloak_token(clients={"vc.issuer": ["auditor"]})
    assert authorizer.check_entity(auditor, "read", "VaccinationCertificate")
    assert refusal(lambda: authorizer.check(auditor, "revoke")).status == 403


def test_a_bad_token_is_still_401_with_a_mapping() -> None:
    authorizer = divoc_authorizer()
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(jwt.decode(admin(), options={"verify_signature": False}), stranger, "RS256", {"kid": "rsa-1"})
    assert refusal(lambda: authorizer.check_entity(forged, "certify", "HealthProfessional")).status == 401
    assert refusal(lambda: authorizer.check_entity(None, "certify", "HealthProfessional")).status == 401


class _PlainAuthorizer:
    """A deployment's own authorizer, written before entity types could be limited."""

    def __init__(self) -> None:
        self.asked: list[tuple[str | None, str]] = []

    def check(self, token: str | None, scope: str) -> str:
        self.asked.append((token, scope))
        return "plug-in"


def test_authorize_asks_a_plain_authorizer_as_before_and_an_entity_authorizer_about_the_type() -> None:
    plain = _PlainAuthorizer()
    assert not isinstance(plain, EntityAuthorizer)
    assert authorize(plain, "t", "certify", "VaccinationCertificate") == "plug-in" and plain.asked == [("t", "certify")]
    static = StaticTokenAuthorizer("static-token-for-tests-0123456789")
    assert isinstance(static, EntityAuthorizer) and isinstance(divoc_authorizer(), EntityAuthorizer)
    assert authorize(static, "static-token-for-tests-0123456789", "revoke", "VaccinationCertificate") == "static-token"
    council = tenant(COUNCIL)
    assert authorize(divoc_authorizer(), council, "certify") == f"user-{COUNCIL}"
    assert refusal(lambda: authorize(divoc_authorizer(), council, "certify", "VaccinationCertificate")).status == 403


# --- the mapping file ----------------------------------------------------------------------------


def test_the_mapping_file_loads_and_a_duplicate_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "roles.json"
    path.write_text(json.dumps(DIVOC_REALM))
    mapping = RoleMapping.from_file(path)
    assert mapping.claims == (("realm_access", "roles"), ("resource_access", "admin-api", "roles"))
    assert mapping.entity_types["HealthProfessional"] == (f"{COUNCIL}-realm-role",)
    assert mapping.permissions([f"{COUNCIL}-realm-role"]) == {
        scope: frozenset({"HealthProfessional"}) for scope in ("certify", "revoke", "read", "manage")
    }
    assert mapping.permissions(["api", f"{COUNCIL}-realm-role"]) == dict.fromkeys(
        ("certify", "revoke", "read", "manage")
    )
    assert RoleMapping.from_dict({"roles": {"api": ["read"]}}).claims == (("realm_access", "roles"),)
    path.write_text('{"roles": {"api": ["read"], "api": ["certify"]}}')  # two entries for one role
    error = refusal(lambda: RoleMapping.from_file(path))
    assert error.code == "AUTH_CONFIG" and "duplicate key" in error.message and str(path) in error.message
    assert "cannot read" in refusal(lambda: RoleMapping.from_file(tmp_path / "none.json")).message


@pytest.mark.parametrize(
    ("mapping", "named"),
    [
        ([], "the file is an array"),
        ({"role": {"api": ["read"]}}, '"role" is not a key'),
        ({"roles": {}}, "roles is empty: it maps roles to permissions"),
        ({}, "roles is null: it maps roles to permissions"),
        ({"roles": {"api": "read"}}, "roles.api is a string: it is a list of names"),
        ({"roles": {"api": ["read", "write"]}}, 'roles.api names "write": the permissions are certify, revoke, read'),
        ({"roles": {"": ["read"]}}, "roles names an empty role"),
        ({"roles": {"api": {"permissions": ["read"], "types": []}}}, 'roles.api has "types"'),
        ({"roles": {"api": {"permissions": ["read"], "entityTypes": "own"}}}, "roles.api.entityTypes is a string"),
        ({"roles": {"api": {"permissions": ["read"], "entityTypes": [1]}}}, "roles.api.entityTypes is an array"),
        ({"roles": {"api": {"entityTypes": "listed"}}}, "roles.api is null"),
        ({"roles": {"api": ["read"]}, "claims": []}, "claims is an array: it is a list of claim paths"),
        ({"roles": {"api": ["read"]}, "claims": ["realm_access..roles"]}, "claims holds an empty claim name"),
        ({"roles": {"api": ["read"]}, "entityTypes": {"HP": "x-realm-role"}}, "entityTypes.HP is a string"),
        ({"roles": {"api": ["read"]}, "entityTypes": []}, "entityTypes is an array"),
    ],
)
def test_a_bad_mapping_is_refused_naming_the_field(mapping: Any, named: str) -> None:
    error = refusal(lambda: RoleMapping.from_dict(mapping, source="roles.json"))
    assert error.code == "AUTH_CONFIG" and error.message.startswith("roles.json: ") and named in error.message, error


@given(st.text("ab*", max_size=6), st.text("ab", max_size=8))
def test_a_role_pattern_matches_as_its_regular_expression_would(pattern: str, role: str) -> None:
    expression = "".join(".+" if part == "*" else re.escape(part) for part in re.split(r"(\*)", pattern))
    assert _matches(pattern, role) == bool(re.fullmatch(expression, role, re.DOTALL))


# --- DIVOC's routes, served ----------------------------------------------------------------------

CERTIFY = "/vc-certification/v1/certify"
REVOKE = "/vc-certification/v1/certificate/revoke"
HP = bundled_entity_types()["HealthProfessional"]
VACCINATION = bundled_entity_types()["VaccinationCertificate"]


@pytest.fixture
def divoc(store_location: str) -> TestClient:
    issuer = Issuer(
        signer=Ed25519Key.from_seed(bytes(range(32))),
        store=open_store(store_location, status_url="https://issuer.example/status/"),
    )
    return TestClient(create_app(issuer, authorizer=divoc_authorizer()))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_with_divocs_api_role_certifies_revokes_and_reads_over_http(divoc: TestClient) -> None:
    assert HP.example is not None and VACCINATION.example is not None
    for entity, payload in (("HealthProfessional", HP.example), ("VaccinationCertificate", VACCINATION.example)):
        made = divoc.post(f"{CERTIFY}/{entity}", json=payload, headers=bearer(admin()))
        assert made.status_code == 200, made.text
        certificate_id = made.json()["certificateId"]
        fetched = divoc.get(f"/vc-certification/v1/certificate/{entity}/{certificate_id}", headers=bearer(admin()))
        assert fetched.status_code == 200, fetched.text
        revoked = divoc.post(
            REVOKE, json={"certificateId": certificate_id, "entityName": entity}, headers=bearer(admin())
        )
        assert revoked.status_code == 200, revoked.text


def test_a_tenant_token_certifies_its_own_entity_type_over_http(divoc: TestClient) -> None:
    assert HP.example is not None
    made = divoc.post(f"{CERTIFY}/HealthProfessional", json=HP.example, headers=bearer(tenant(COUNCIL)))
    assert made.status_code == 200 and made.json()["certificateId"], made.text
    # DIVOC's alias of the type (the seed page's HealthProfessional_1) is the same entity type
    again = divoc.post(
        f"{CERTIFY}/HealthProfessional_1", json={**HP.example, "certificateId": "c-2"}, headers=bearer(tenant(COUNCIL))
    )
    assert again.status_code == 200, again.text


def test_a_token_without_a_mapped_role_gets_403_over_http(divoc: TestClient) -> None:
    assert HP.example is not None
    answer = divoc.post(f"{CERTIFY}/HealthProfessional", json=HP.example, headers=bearer(keycloak_token()))
    assert answer.status_code == 403 and answer.headers["content-type"] == "application/problem+json", answer.text
    assert answer.json()["code"] == "FORBIDDEN" and "default-roles-sunbird-rc" in answer.json()["detail"]
    assert answer.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="certify"'


def test_a_tenant_token_gets_403_naming_another_tenants_entity_type_over_http(divoc: TestClient) -> None:
    assert HP.example is not None and VACCINATION.example is not None
    council, ministry = bearer(tenant(COUNCIL)), bearer(tenant(MINISTRY))
    refused = divoc.post(f"{CERTIFY}/VaccinationCertificate", json=VACCINATION.example, headers=council)
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "FORBIDDEN" and "VaccinationCertificate" in refused.json()["detail"]
    # another tenant's certificate: neither revoked, suspended, lifted nor read by this tenant
    made = divoc.post(f"{CERTIFY}/VaccinationCertificate", json=VACCINATION.example, headers=ministry)
    certificate_id = made.json()["certificateId"]
    theirs = {"certificateId": certificate_id, "entityName": "VaccinationCertificate"}
    for answer in (
        divoc.post(REVOKE, json=theirs, headers=council),
        divoc.post(REVOKE, json={**theirs, "endDate": "2099-01-01T00:00:00Z"}, headers=council),
        divoc.delete(f"{REVOKE}/VaccinationCertificate/{certificate_id}", headers=council),
        divoc.get(f"/vc-certification/v1/certificate/VaccinationCertificate/{certificate_id}", headers=council),
        divoc.get(f"/vc-management/v1/transaction/{made.json()['transactionId']}", headers=council),
    ):
        assert answer.status_code == 403 and "VaccinationCertificate" in answer.json()["detail"], answer.text
    # the owner still can
    assert divoc.post(REVOKE, json=theirs, headers=ministry).status_code == 200


# --- vccore serve --roles ------------------------------------------------------------------------


def test_vccore_serve_takes_a_roles_file_with_its_jwks(tmp_path: Path) -> None:
    """`vccore serve --jwks FILE --roles FILE`, a real process: the council's token certifies its
    own entity type and is refused another tenant's; --roles without --jwks is a usage error."""
    import subprocess
    import sys

    import httpx
    from served import ServedProcess

    (tmp_path / "jwks.json").write_text(json.dumps(JWKS))
    (tmp_path / "roles.json").write_text(json.dumps(DIVOC_REALM))
    alone = subprocess.run(
        [
            sys.executable,
            "-m",
            "vccore",
            "serve",
            "--home",
            str(tmp_path / "h"),
            "--roles",
            str(tmp_path / "roles.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert alone.returncode == 2 and "--roles go with --jwks" in alone.stderr, alone.stderr
    options = ("--jwks", str(tmp_path / "jwks.json"), "--jwt-issuer", REALM, "--roles", str(tmp_path / "roles.json"))
    server = ServedProcess(
        tmp_path / "home",
        None,
        *options,
        token="unused-static-token-0123456789",
        status_url="https://issuer.example/status/",
    )
    server.start()
    try:
        council = {"Authorization": f"Bearer {tenant(COUNCIL)}"}
        assert HP.example is not None and VACCINATION.example is not None
        own = httpx.post(
            f"{server.url}/vc-certification/v1/certify/HealthProfessional", json=HP.example, headers=council
        )
        assert own.status_code == 200, own.text
        other = httpx.post(
            f"{server.url}/vc-certification/v1/certify/VaccinationCertificate",
            json=VACCINATION.example,
            headers=council,
        )
        assert other.status_code == 403 and "VaccinationCertificate" in other.json()["detail"], other.text
    finally:
        assert "roles mapped by" in server.stop()
