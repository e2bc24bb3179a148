"""Issue 18, the HTTP items: what a DIVOC tenant met in the first hour with `vccore serve`.

Each test runs the real ASGI application in process (Starlette's TestClient), over a real
SQLite store, as tests/test_server.py does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("jwt")
pytest.importorskip("httpx")

from conftest import seed_request
from starlette.testclient import TestClient

from vccore import Ed25519Key, bundled_entity_types, open_store
from vccore.http import MAX_BODY, create_app
from vccore.http.auth import StaticTokenAuthorizer
from vccore.issuer import Issuer

TYPES = bundled_entity_types()
KEY = Ed25519Key.from_seed(bytes(range(32)))
BASE = "https://issuer.example/status/"
TOKEN = "static-token-for-tests-0123456789"
CERTIFY = "/vc-certification/v1/certify"
CERTIFICATE = "/vc-certification/v1/certificate"
REVOKE = "/vc-certification/v1/certificate/revoke"


def example(entity: str = "HealthProfessional", **changes: Any) -> dict[str, Any]:
    payload = TYPES[entity].example
    assert payload is not None
    return {**payload, "validTill": "2099-09-09T21:01:01.121Z", **changes}


def serving(issuer: Issuer, **options: Any) -> TestClient:
    return TestClient(
        create_app(issuer, authorizer=options.pop("authorizer", StaticTokenAuthorizer(TOKEN))),
        headers={"Authorization": f"Bearer {TOKEN}"},
        **options,
    )


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[Issuer]:
    made = Issuer(signer=KEY, store=open_store(tmp_path / "vccore.db", status_url=BASE))
    yield made
    made.store.close()


@pytest.fixture
def client(issuer: Issuer) -> TestClient:
    return serving(issuer)


def looked_up(client: TestClient, transaction_id: str) -> dict[str, Any]:
    answer = client.get(f"/vc-management/v1/transaction/{transaction_id}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


# --- item 2: every answer to a certify request carries its transactionId --------------------------


def test_a_certify_request_refused_for_its_suite_carries_a_transaction_id(tmp_path: Path) -> None:
    # A server told to sign with eddsa-rdfc-2022 cannot sign a VaccinationCertificate (its type
    # takes eddsa-jcs-2022 only): the 400 had no transactionId, and nothing was recorded.
    issuer = Issuer(signer=KEY, store=open_store(tmp_path / "vccore.db", status_url=BASE), suite="eddsa-rdfc-2022")
    client = serving(issuer)
    answer = client.post(f"{CERTIFY}/VaccinationCertificate", json=example("VaccinationCertificate"))
    assert answer.status_code == 400 and answer.json()["code"] == "UNSUPPORTED_SUITE", answer.text
    transaction = looked_up(client, answer.json()["transactionId"])
    assert transaction["status"] == "UNSUCCESSFUL" and transaction["reason"]["code"] == "UNSUPPORTED_SUITE"
    assert transaction["entityType"] == "VaccinationCertificate"


def test_every_refusal_of_a_certify_request_carries_a_transaction_id_that_looks_up(
    client: TestClient, issuer: Issuer
) -> None:
    assert client.post(f"{CERTIFY}/HealthProfessional", json=example(certificateId="r-1")).status_code == 200
    assert client.post(REVOKE, json={"certificateId": "r-1", "entityName": "HealthProfessional"}).status_code == 200
    # an unknown entity type is taken, as DIVOC takes it (200), and its transaction says why (issue 19, row 14)
    taken = client.post(f"{CERTIFY}/Nobody", json=example())
    assert taken.status_code == 200, taken.text
    transaction = looked_up(client, taken.json()["transactionId"])
    assert transaction["status"] == "UNSUCCESSFUL" and transaction["reason"]["code"] == "UNKNOWN_ENTITY_TYPE"
    cases = [
        (client.post(f"{CERTIFY}/HealthProfessional", content=b"{not json"), 400, "MALFORMED_REQUEST"),
        (client.post(f"{CERTIFY}/HealthProfessional", content=b"[1, 2]"), 400, "MALFORMED_REQUEST"),
        (
            client.post(f"{CERTIFY}/HealthProfessional", content=b'{"name": "' + b"x" * MAX_BODY + b'"}'),
            413,
            "BODY_TOO_LARGE",
        ),
        (client.put(f"{CERTIFY}/HealthProfessional", json=example(certificateId="nope")), 404, "UNKNOWN_CERTIFICATE"),
        (
            client.post(f"{CERTIFY}/HealthProfessional", json=example(certificateId="r-1", name="Neha R.")),
            409,
            "INVALID_TRANSITION",
        ),
        (client.post(f"{CERTIFY}/HealthProfessional", json=example(dob="1991-13-01")), 422, "INVALID_PAYLOAD"),
    ]
    seen = set()
    for answer, status, code in cases:
        problem = answer.json()
        assert (answer.status_code, problem["code"]) == (status, code), answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        transaction = looked_up(client, problem["transactionId"])
        assert transaction["status"] == "UNSUCCESSFUL" and transaction["reason"]["code"] == code, transaction
        seen.add(problem["transactionId"])
    assert len(seen) == len(cases)  # one transaction per request
    assert issuer.store.count() == 1


class _FailingAuthorizer:
    """An authorizer with a fault of its own (what a deployment's plug-in can have)."""

    def check(self, token: str | None, scope: str) -> str:
        raise RuntimeError("the token service is down")


def test_an_unexpected_failure_is_a_problem_with_the_transaction_id(issuer: Issuer) -> None:
    # A fault the server did not foresee answered Starlette's plain-text 500, with no
    # transactionId to find it in the log by; the VC API routes answered the same way.
    client = serving(issuer, authorizer=_FailingAuthorizer(), raise_server_exceptions=False)
    answer = client.post(f"{CERTIFY}/HealthProfessional", json=example())
    assert answer.status_code == 500 and answer.headers["content-type"] == "application/problem+json", answer.text
    problem = answer.json()
    assert problem["code"] == "VCCORE_ERROR" and problem["transactionId"] in problem["detail"]
    assert "RuntimeError" not in answer.text and "token service" not in answer.text  # no internals
    vc_api = client.post("/credentials/issue", json={"credential": {}})
    assert vc_api.status_code == 500 and vc_api.headers["content-type"] == "application/problem+json"
    assert issuer.store.count() == 0


def test_the_vc_api_refusals_name_the_credential_and_no_python_values(client: TestClient) -> None:
    # the sibling routes: a refusal said which request it was only now and then (a 404 or 409),
    # and spelt the value it refused as Python does (None, 'x')
    entry = {"type": "BitstringStatusListEntry", "statusPurpose": None}
    refused = client.post(
        "/credentials/status", json={"credentialId": "urn:uuid:1", "credentialStatus": entry, "status": True}
    )
    assert refused.status_code == 400 and refused.json()["credentialId"] == "urn:uuid:1", refused.text
    assert refused.json()["detail"].endswith("not null")
    unknown = client.post(
        "/credentials/status",
        json={
            "credentialId": "urn:uuid:2",
            "credentialStatus": {**entry, "statusPurpose": "revocation"},
            "status": True,
        },
    )
    assert unknown.status_code == 404 and unknown.json()["credentialId"] == "urn:uuid:2"
    credential = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": "urn:uuid:3",
        "type": ["VerifiableCredential"],
        "issuer": "did:example:someone-else",
        "credentialSubject": {"id": "did:example:1"},
    }
    issued = client.post("/credentials/issue", json={"credential": credential, "options": {"cryptosuite": "x"}})
    assert issued.status_code == 400 and issued.json()["credentialId"] == "urn:uuid:3", issued.text
    assert "'did:example:someone-else'" not in issued.json()["detail"]


# --- item 9: validation before conflicts; replays; a fetched certificate's state ------------------------


def test_an_invalid_payload_is_refused_for_its_problems_before_any_conflict(client: TestClient) -> None:
    assert client.post(f"{CERTIFY}/HealthProfessional", json=example(certificateId="v-1")).status_code == 200
    updated = client.put(f"{CERTIFY}/HealthProfessional", json=example(certificateId="v-1", name="Neha R."))
    assert updated.status_code == 200
    for method, certificate_id in (("POST", "v-1"), ("PUT", "v-1"), ("PUT", "unknown")):
        # v-1 is superseded (409 before), "unknown" is not in the store (404 before)
        answer = client.request(
            method, f"{CERTIFY}/HealthProfessional", json=example(certificateId=certificate_id, dob="1991-13-01")
        )
        assert answer.status_code == 422 and answer.json()["code"] == "INVALID_PAYLOAD", (method, answer.text)
        assert [p["pointer"] for p in answer.json()["problems"]] == ["/dob"] and answer.json()["transactionId"]


def test_replaying_the_seed_request_gives_the_same_answer(client: TestClient, issuer: Issuer) -> None:
    # The seed's request sent three times made a certificate, then an update with a new random
    # certificateId, then a 409.
    entity, body = seed_request()
    answers = [client.post(f"{CERTIFY}/{entity}", json=body) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert [a.json() for a in answers] == [answers[0].json()] * 3
    assert answers[0].json()["certificateId"] == "614894628867" and issuer.store.count() == 1
    assert [a.headers.get("idempotent-replayed") for a in answers] == [None, "true", "true"]
    # an update, sent twice (a source system retrying), makes one successor
    renewal = {**body, "registrationExpiry": "2030-09-09", "validTill": "2030-09-09T21:01:01.121Z"}
    updates = [client.post(f"{CERTIFY}/{entity}", json=renewal) for _ in range(2)]
    assert updates[0].json() == updates[1].json() and updates[0].json()["certificateId"] != "614894628867"
    assert issuer.store.count() == 2
    # the first payload once more: its certificate has been replaced since, so it is a conflict
    stale = client.post(f"{CERTIFY}/{entity}", json=body)
    assert stale.status_code == 409 and stale.json()["code"] == "INVALID_TRANSITION", stale.text
    successor = updates[0].json()["certificateId"]
    assert successor in stale.json()["detail"] and stale.json()["transactionId"]
    assert issuer.store.count() == 2
    # PUT re-issues the certificate it names, even from the payload that made it; sent again, it
    # is the same PUT (its payload made that certificate's successor): the same answer
    again = {**renewal, "certificateId": successor}
    reissued = [client.put(f"{CERTIFY}/{entity}", json=again) for _ in range(2)]
    assert [r.status_code for r in reissued] == [200, 200] and reissued[0].json() == reissued[1].json()
    assert reissued[0].json()["certificateId"] not in (successor, "614894628867") and issuer.store.count() == 3
    assert reissued[1].headers["idempotent-replayed"] == "true"


def test_a_fetched_certificate_says_its_state_and_successor_in_headers(client: TestClient) -> None:
    first = client.post(f"{CERTIFY}/HealthProfessional", json=example(certificateId="s-1"))
    original = client.get(f"{CERTIFICATE}/HealthProfessional/s-1")
    assert original.headers["certificate-state"] == "VALID" and "link" not in original.headers
    second = client.post(f"{CERTIFY}/HealthProfessional", json=example(certificateId="s-1", name="Neha R.")).json()
    third = client.post(
        f"{CERTIFY}/HealthProfessional", json=example(certificateId=second["certificateId"], name="Neha Rao")
    ).json()
    assert first.status_code == 200
    old = client.get(f"{CERTIFICATE}/HealthProfessional_1/s-1")  # an alias: the links name the type
    assert old.status_code == 200 and old.json() == original.json()  # the credential as it was signed
    assert old.headers["certificate-state"] == "SUPERSEDED"
    assert old.headers["link"] == (
        f'<{CERTIFICATE}/HealthProfessional/{second["certificateId"]}>; rel="successor-version", '
        f'<{CERTIFICATE}/HealthProfessional/{third["certificateId"]}>; rel="latest-version"'
    )
    middle = client.get(f"{CERTIFICATE}/HealthProfessional/{second['certificateId']}", headers={"Accept": "image/png"})
    assert middle.headers["content-type"] == "image/png" and middle.headers["certificate-state"] == "SUPERSEDED"
    assert f'<{CERTIFICATE}/HealthProfessional/s-1>; rel="predecessor-version"' in middle.headers["link"]
    until = (datetime.now(UTC) + timedelta(days=40)).strftime("%Y-%m-%d")
    suspended = client.post(
        REVOKE, json={"certificateId": third["certificateId"], "entityName": "HealthProfessional", "endDate": until}
    )
    assert suspended.status_code == 200, suspended.text
    current = client.get(f"{CERTIFICATE}/HealthProfessional/{third['certificateId']}", headers={"Accept": "text/html"})
    assert current.headers["certificate-state"] == "SUSPENDED"
    assert current.headers["certificate-suspended-until"] == f"{until}T00:00:00Z"
    client.post(REVOKE, json={"certificateId": third["certificateId"], "entityName": "HealthProfessional"})
    revoked = client.get(f"{CERTIFICATE}/HealthProfessional/{third['certificateId']}")
    assert revoked.headers["certificate-state"] == "REVOKED" and "certificate-suspended-until" not in revoked.headers
    # item 14: the printable page says so too (it said nothing of the state before)
    page = client.get(f"{CERTIFICATE}/HealthProfessional/{third['certificateId']}", headers={"Accept": "text/html"})
    assert "REVOKED" in page.text and "NOT VERIFIED" not in page.text, page.text[:2000]
    old_page = client.get(f"{CERTIFICATE}/HealthProfessional/s-1", headers={"Accept": "text/html"})
    assert "SUPERSEDED" in old_page.text and "NOT VERIFIED" not in old_page.text


# --- item 10: a suspension's end is a date or a date-time -------------------------------------------------


def test_a_suspension_ends_at_a_date_or_a_date_time_and_other_spellings_are_named(client: TestClient) -> None:
    assert client.post(f"{CERTIFY}/HealthProfessional", json=example(certificateId="d-1")).status_code == 200
    day = (datetime.now(UTC) + timedelta(days=60)).date()

    def suspend(end: Any) -> Any:
        return client.post(REVOKE, json={"certificateId": "d-1", "entityName": "HealthProfessional", "endDate": end})

    # a date: suspended until that day begins, in UTC
    assert suspend(day.isoformat()).json()["suspendedUntil"] == f"{day}T00:00:00Z"
    assert suspend(f"{day}T10:30:00+02:00").json()["suspendedUntil"] == f"{day}T08:30:00Z"
    for spelling in (f"{day}T10:30:00", f"{day:%d/%m/%Y}", f"{day:%Y%m%d}", "tomorrow", "", 20270101):
        answer = suspend(spelling)
        problem = answer.json()
        assert answer.status_code == 400 and problem["field"] == "endDate", (spelling, answer.text)
        assert "YYYY-MM-DD" in problem["detail"] and "2027-01-01T00:00:00Z" in problem["detail"], problem
        assert "'" not in problem["detail"], problem  # no Python repr of the value
    assert "an empty string" in suspend("").json()["detail"]
    # a date that has begun already is this field's fault, not the certificate's state (409 before)
    past = suspend((datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d"))
    assert past.status_code == 400 and past.json()["field"] == "endDate", past.text
    assert "future" in past.json()["detail"]


# --- item 15: the header the seed page spells "Authorisation" -------------------------------------------


def test_a_misspelt_authorization_header_is_named_and_a_lower_case_scheme_is_taken(issuer: Issuer) -> None:
    app = serving(issuer).app
    client = TestClient(app)
    for header in ("Authorisation", "authorisation", "Authorizaton"):
        answer = client.get("/vc-management/v1/transaction/x", headers={header: f"bearer {TOKEN}"})
        assert answer.status_code == 401, answer.text
        assert "did you mean Authorization?" in answer.json()["detail"] and header.lower() in answer.json()["detail"]
    # the scheme is case-insensitive (RFC 7235 section 2.1): the seed page's "bearer" is taken
    taken = client.get("/vc-management/v1/transaction/x", headers={"Authorization": f"bearer {TOKEN}"})
    assert taken.status_code == 404 and taken.json()["code"] == "UNKNOWN_TRANSACTION"
    # no header at all: which header, which scheme, and where the token is
    bare = client.post(f"{CERTIFY}/HealthProfessional", json=example())
    detail = bare.json()["detail"]
    assert bare.status_code == 401 and "Authorization: Bearer <token>" in detail, detail
    assert "VCCORE_API_TOKEN" in detail and "api-token" in detail and "did you mean" not in detail
    assert "transactionId" not in bare.json() and issuer.store.count() == 0  # nothing read, nothing recorded
    # the VC API's routes are guarded alike
    vc_api = client.post("/credentials/issue", json={}, headers={"Authorisation": f"Bearer {TOKEN}"})
    assert vc_api.status_code == 401 and "did you mean Authorization?" in vc_api.json()["detail"]
    # a server taking JWTs says where one comes from
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from vccore.http.auth import JwtAuthorizer

    public = ed25519.Ed25519PrivateKey.generate().public_key()
    jwks = {"keys": [{**json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(public)), "kid": "k", "use": "sig"}]}
    jwt_client = TestClient(create_app(issuer, authorizer=JwtAuthorizer(jwks)))
    detail = jwt_client.post(f"{CERTIFY}/HealthProfessional", json=example()).json()["detail"]
    assert "Authorization: Bearer <token>" in detail and "JWT" in detail and "--jwks" in detail, detail
