"""Issue 23, "Idempotency": the ``Idempotency-Key`` header (draft-ietf-httpapi-idempotency-key-header)
on DIVOC's certify (POST) and update (PUT) and on the VC API's issue, against a real `vccore serve`
process on SQLite and on PostgreSQL: a request sent again, or sixteen times at once, makes one
certificate and gets the first answer back; the same key with another payload is refused (422); a
key is scoped to the token's subject, so that another tenant's same key is another request."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("jwt")

import httpx
import jwt
from conftest import raw_rows
from cryptography.hazmat.primitives.asymmetric import rsa
from served import ServedProcess

from vccore import bundled_entity_types

HP = bundled_entity_types()["HealthProfessional"]
TOKEN = "static-token-for-idempotency-0123456789"
BASE = "https://issuer.example/status/"
CERTIFY = "/vc-certification/v1/certify/HealthProfessional"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
RETRIES = 16

pytestmark = pytest.mark.slow  # real processes, sixteen requests raced at once


def payload(**changes: Any) -> dict[str, Any]:
    assert HP.example is not None
    return {**HP.example, **changes}


@pytest.fixture
def served(request: pytest.FixtureRequest, tmp_path: Path, store_location: str) -> Iterator[ServedProcess]:
    """`vccore serve`, with one worker or as many as the test asks for (sharing the store: a
    retry lands on either)."""
    options = ("--workers", str(getattr(request, "param", 1)))
    server = ServedProcess(tmp_path / "home", store_location, *options, token=TOKEN, status_url=BASE)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def at_once(url: str, send: Callable[[httpx.Client], httpx.Response], count: int = RETRIES) -> list[httpx.Response]:
    """``send`` on ``count`` connections of their own, released together (a client's retries
    crossing the first request, as a load balancer's or a timed-out client's do)."""
    start = threading.Barrier(count)

    def one(_: int) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=120) as http:
            http.get("/health")  # connected before the barrier, so that the requests race
            start.wait()
            return send(http)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def certificates(location: str) -> list[tuple[Any, ...]]:
    """The store's certificates, read past vccore: id, transactionId, the one it replaces."""
    return raw_rows(
        location, "SELECT certificate_id, transaction_id, replaces FROM certificates ORDER BY certificate_id"
    )


def one_answer(answers: list[httpx.Response]) -> dict[str, Any]:
    """The one answer all ``answers`` give (status 200, one body), every one but the first at
    most marked as a replay."""
    assert [a.status_code for a in answers] == [200] * len(answers), [a.text for a in answers]
    bodies = {json.dumps(a.json(), sort_keys=True) for a in answers}
    assert len(bodies) == 1, bodies
    unmarked = [a for a in answers if a.headers.get("idempotent-replayed") != "true"]
    assert len(unmarked) <= 1, [a.headers for a in unmarked]
    body: dict[str, Any] = answers[0].json()
    return body


@pytest.mark.parametrize("served", [1, 2], ids=["1-worker", "2-workers"], indirect=True)
def test_sixteen_retries_at_once_with_one_key_make_one_certificate(served: ServedProcess, store_location: str) -> None:
    """Must-show 2: the same Idempotency-Key sent by 16 requests at once gives one certificate
    and 16 answers with its certificateId and transactionId; for a payload naming its
    certificateId and for one whose id the server picks, then for an update (PUT): one successor."""
    named = payload(certificateId="idem-0001")
    answers = at_once(
        served.url, lambda http: http.post(CERTIFY, json=named, headers={**AUTH, "Idempotency-Key": "k-1"})
    )
    first = one_answer(answers)
    assert first["certificateId"] == "idem-0001" and first["transactionId"]
    assert certificates(store_location) == [("idem-0001", first["transactionId"], None)]

    unnamed = {k: v for k, v in payload(name="Asha").items() if k != "certificateId"}
    answers = at_once(
        served.url, lambda http: http.post(CERTIFY, json=unnamed, headers={**AUTH, "Idempotency-Key": "k-2"})
    )
    second = one_answer(answers)
    assert len(certificates(store_location)) == 2
    assert (second["certificateId"], second["transactionId"], None) in certificates(store_location)

    renewal = {**named, "registrationExpiry": "2030-09-09", "validTill": "2030-09-09T21:01:01.121Z"}
    answers = at_once(
        served.url, lambda http: http.put(CERTIFY, json=renewal, headers={**AUTH, "Idempotency-Key": "k-3"})
    )
    successor = one_answer(answers)
    stored = certificates(store_location)
    assert len(stored) == 3 and (successor["certificateId"], successor["transactionId"], "idem-0001") in stored

    # and sent again later (a retry after a timeout): the first answer, marked as a replay
    with httpx.Client(base_url=served.url, timeout=60) as http:
        again = http.put(CERTIFY, json=renewal, headers={**AUTH, "Idempotency-Key": '"k-3"'})  # quoted: the same key
        assert again.status_code == 200 and again.json() == successor and again.headers["idempotent-replayed"] == "true"
        # the first certificate has been updated since: its key still gives its own answer
        replayed = http.post(CERTIFY, json=named, headers={**AUTH, "Idempotency-Key": "k-1"})
        assert replayed.status_code == 200 and replayed.json() == first, replayed.text
        assert replayed.headers["idempotent-replayed"] == "true"
    assert len(certificates(store_location)) == 3


def test_a_key_sent_with_another_payload_is_refused(served: ServedProcess, store_location: str) -> None:
    """The draft's 422: a key names one request; the same key with another payload is refused,
    naming the problem, and makes nothing."""
    with httpx.Client(base_url=served.url, timeout=60, headers=AUTH) as http:
        first = http.post(CERTIFY, json=payload(certificateId="idem-0002"), headers={"Idempotency-Key": "k-9"})
        assert first.status_code == 200, first.text
        for method, changed in (
            ("POST", payload(certificateId="idem-0002", name="Mallory")),
            ("POST", payload(certificateId="idem-0003")),
        ):
            refused = http.request(method, CERTIFY, json=changed, headers={"Idempotency-Key": "k-9"})
            assert refused.status_code == 422, refused.text
            assert refused.json()["code"] == "IDEMPOTENCY_KEY_REUSED" and "another request" in refused.json()["detail"]
            assert refused.json()["transactionId"]  # DIVOC's clients look the refusal up by it
        # a PUT with the key of a POST is another operation: not refused for it
        put = http.put(
            CERTIFY, json=payload(certificateId="idem-0002", name="Neha R."), headers={"Idempotency-Key": "k-9"}
        )
        assert put.status_code == 200 and put.headers.get("idempotent-replayed") is None, put.text
    assert sorted(row[0] for row in certificates(store_location)) == sorted(["idem-0002", put.json()["certificateId"]])


def test_one_key_with_sixteen_payloads_at_once_makes_one_certificate(
    served: ServedProcess, store_location: str
) -> None:
    """A client reusing one key for different payloads at the same moment: one is certified, the
    others are refused (422), as they are one after another."""
    numbers = iter(range(RETRIES))
    lock = threading.Lock()

    def send(http: httpx.Client) -> httpx.Response:
        with lock:
            number = next(numbers)
        body = payload(certificateId=f"race-{number}")
        return http.post(CERTIFY, json=body, headers={**AUTH, "Idempotency-Key": "one-key"})

    answers = at_once(served.url, send)
    assert sorted(a.status_code for a in answers) == [200] + [422] * (RETRIES - 1), [a.text for a in answers]
    assert len(certificates(store_location)) == 1


def test_a_key_out_of_bounds_is_refused_with_what_is_wrong(served: ServedProcess, store_location: str) -> None:
    cases: list[tuple[list[tuple[bytes, bytes]], str]] = [
        ([(b"Idempotency-Key", b"")], "empty"),
        ([(b"Idempotency-Key", b'""')], "empty"),
        ([(b"Idempotency-Key", b"k" * 256)], "256 characters, over 255"),
        ([(b"Idempotency-Key", "clé".encode("latin-1"))], '"\\u00e9" (U+00E9)'),
        ([(b"Idempotency-Key", b"a,b")], '"," (U+002C)'),
        ([(b"Idempotency-Key", b'"open')], '"\\"" (U+0022)'),
        ([(b"Idempotency-Key", b"k-1"), (b"Idempotency-Key", b"k-2")], "2 Idempotency-Key headers"),
    ]
    with httpx.Client(base_url=served.url, timeout=60) as http:
        for headers, words in cases:
            answer = http.post(
                CERTIFY,
                content=json.dumps(payload(certificateId="idem-0004")).encode(),
                headers=[
                    (b"Authorization", f"Bearer {TOKEN}".encode()),
                    (b"Content-Type", b"application/json"),
                    *headers,
                ],
            )
            assert answer.status_code == 400, (headers, answer.text)
            assert answer.json()["code"] == "MALFORMED_REQUEST" and answer.json()["field"] == "Idempotency-Key"
            assert words in answer.json()["detail"] and "1 to 255 printable ASCII" in answer.json()["detail"], (
                headers,
                answer.json()["detail"],
            )
        longest = http.post(
            CERTIFY, json=payload(certificateId="idem-0004"), headers={**AUTH, "Idempotency-Key": "k" * 255}
        )
        assert longest.status_code == 200, longest.text
    assert [row[0] for row in certificates(store_location)] == ["idem-0004"]


@pytest.mark.parametrize("served", [1, 2], ids=["1-worker", "2-workers"], indirect=True)
def test_the_vc_api_issue_gives_one_credential_for_one_key(served: ServedProcess, store_location: str) -> None:
    """``POST /credentials/issue`` records what it signs: without a key, the same request sent
    twice is two credentials; with one, 16 at once are one, and another body under it is 422."""
    with httpx.Client(base_url=served.url, timeout=60, headers=AUTH) as http:
        made = http.post(CERTIFY, json=payload(certificateId="idem-0005"))
        credential = http.get(
            "/vc-certification/v1/certificate/HealthProfessional/idem-0005",
            headers={"Accept": "application/vc+ld+json"},
        ).json()
        assert made.status_code == 200
    issuer = credential["issuer"]["id"] if isinstance(credential["issuer"], dict) else credential["issuer"]
    body = {
        "credential": {
            "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
            "type": ["VerifiableCredential"],
            "issuer": issuer,
            "credentialSubject": {"id": "did:example:123", "name": "Dr. Asha Rao"},
        }
    }
    answers = at_once(
        served.url, lambda http: http.post("/credentials/issue", json=body, headers={**AUTH, "Idempotency-Key": "vc-1"})
    )
    assert [a.status_code for a in answers] == [201] * RETRIES, [a.text for a in answers]
    assert len({json.dumps(a.json(), sort_keys=True) for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") != "true" for a in answers) == 1  # recorded with the credential
    issued = answers[0].json()["verifiableCredential"]
    rows = raw_rows(
        store_location, "SELECT certificate_id FROM certificates WHERE entity_type = 'VerifiableCredential'"
    )
    assert rows == [(issued["id"],)]
    with httpx.Client(base_url=served.url, timeout=60, headers=AUTH) as http:
        other = {"credential": {**body["credential"], "credentialSubject": {"id": "did:example:456"}}}
        refused = http.post("/credentials/issue", json=other, headers={"Idempotency-Key": "vc-1"})
        assert refused.status_code == 422 and refused.json()["code"] == "IDEMPOTENCY_KEY_REUSED", refused.text
        twice = [http.post("/credentials/issue", json=body) for _ in range(2)]  # no key: two credentials
        assert [t.status_code for t in twice] == [201, 201] and twice[0].json() != twice[1].json()
    rows = raw_rows(
        store_location, "SELECT certificate_id FROM certificates WHERE entity_type = 'VerifiableCredential'"
    )
    assert len(rows) == 3


# --- a key is its caller's: scoped by the token's subject ------------------------------------------

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ISSUER_ID = "https://keycloak.example/realms/divoc"


def bearer(subject: str) -> dict[str, str]:
    now = int(time.time())
    claims = {"iss": ISSUER_ID, "aud": "vccore", "sub": subject, "iat": now, "exp": now + 600, "scope": "certify read"}
    return {"Authorization": f"Bearer {jwt.encode(claims, RSA_KEY, algorithm='RS256', headers={'kid': 'rsa-1'})}"}


def test_another_tenants_same_key_is_another_request(tmp_path: Path, store_location: str) -> None:
    """Two facilities (JWT subjects) that pick the same key: neither sees the other's answer, nor
    is refused for it; each one's key stays bound to its own payload."""
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**public, "kid": "rsa-1", "use": "sig"}]}))
    options = ("--jwks", str(tmp_path / "jwks.json"), "--jwt-issuer", ISSUER_ID, "--jwt-audience", "vccore")
    server = ServedProcess(tmp_path / "home", store_location, *options, token=TOKEN, status_url=BASE)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            key = {"Idempotency-Key": "order-1"}
            north = http.post(CERTIFY, json=payload(certificateId="n-1"), headers={**bearer("facility-north"), **key})
            south = http.post(CERTIFY, json=payload(certificateId="s-1"), headers={**bearer("facility-south"), **key})
            assert (north.status_code, south.status_code) == (200, 200), (north.text, south.text)
            assert south.json()["certificateId"] == "s-1" and south.headers.get("idempotent-replayed") is None
            again = http.post(CERTIFY, json=payload(certificateId="s-1"), headers={**bearer("facility-south"), **key})
            assert again.json() == south.json() and again.headers["idempotent-replayed"] == "true"
            # the south's key is bound to the south's payload: the north's payload under it is refused
            crossed = http.post(CERTIFY, json=payload(certificateId="n-1"), headers={**bearer("facility-south"), **key})
            assert crossed.status_code == 422 and crossed.json()["code"] == "IDEMPOTENCY_KEY_REUSED", crossed.text
    finally:
        server.stop()
    assert sorted(row[0] for row in certificates(store_location)) == ["n-1", "s-1"]
