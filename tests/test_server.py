"""`vccore serve` (issue #9): DIVOC's certification API and the W3C VC API over HTTP.

The seed's whole story runs against a real server process (`vccore serve`, on a loopback port)
through HTTP alone; the authorisation matrix and the finer points run against the same ASGI
application in process (Starlette's TestClient: the real app, no mock)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("jwt")
httpx = pytest.importorskip("httpx")

import jwt  # noqa: E402
from conftest import seed_request  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa  # noqa: E402
from served import ServedProcess, free_port  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from vccore import Ed25519Key, Verifier, bundled_entity_types, open_store, qr, sign  # noqa: E402
from vccore.http import MAX_BODY, create_app  # noqa: E402
from vccore.http.auth import JwtAuthorizer, StaticTokenAuthorizer  # noqa: E402
from vccore.issuer import Issuer  # noqa: E402

HP = bundled_entity_types()["HealthProfessional"]
KEY = Ed25519Key.from_seed(bytes(range(32)))
BASE = "https://issuer.example/status/"
TOKEN = "static-token-for-tests-0123456789"
CERTIFY = "/vc-certification/v1/certify"


def renewed(payload: dict[str, Any], certificate_id: str) -> dict[str, Any]:
    """The update a council sends when a registration is renewed: valid until 2030."""
    return {
        **payload,
        "certificateId": certificate_id,
        "registrationExpiry": "2030-09-09",
        "validTill": "2030-09-09T21:01:01.121Z",
    }


# --- the seed's story, over HTTP, against `vccore serve` --------------------------------------------


class Served(ServedProcess):
    """`vccore serve` on a loopback port with this module's token and status URL."""

    def __init__(self, home: Path, store: str, *options: str) -> None:
        super().__init__(home, store, *options, token=TOKEN, status_url=BASE)


@pytest.fixture
def served(tmp_path: Path, store_location: str) -> Iterator[Served]:
    server = Served(tmp_path / "home", store_location)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_the_seed_request_and_the_whole_lifecycle_over_http(served: Served, tmp_path: Path) -> None:
    """Issue #9, point 1: the sample request as the page shows it; the certificate fetched as
    JSON, HTML and PNG; updated, suspended, revoked and verified, through HTTP alone."""
    entity, body = seed_request()
    assert entity == "HealthProfessional_1" and body["certificateId"] == "614894628867"
    auth = {"Authorization": f"bearer {TOKEN}", "Content-Type": "application/json", "Accept": "application/json"}
    with httpx.Client(base_url=served.url, timeout=30) as http:
        answer = http.post(f"{CERTIFY}/{entity}", content=json.dumps(body), headers=auth)
        assert answer.status_code == 200, answer.text
        transaction_id = answer.json()["transactionId"]
        transaction = http.get(f"/vc-management/v1/transaction/{transaction_id}", headers=auth).json()
        assert transaction == {
            "transactionId": transaction_id,
            "certificateId": "614894628867",
            "entityType": "HealthProfessional",
            "status": "SUCCESSFUL",
        }

        path = f"/vc-certification/v1/certificate/{entity}/614894628867"
        as_json = http.get(path, headers={**auth, "Accept": "application/vc+ld+json"})
        assert as_json.status_code == 200 and as_json.headers["content-type"].startswith("application/vc+ld+json")
        credential = as_json.json()
        assert (
            credential["credentialSubject"]["name"] == "Neha"
            and credential["evidence"]["certificateId"] == "614894628867"
        )
        page = http.get(path, headers={**auth, "Accept": "text/html"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html") and "Neha" in page.text
        png = http.get(path, headers={**auth, "Accept": "image/png"})
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
        (tmp_path / "served.png").write_bytes(png.content)
        assert qr.decode_text(qr.read_image(tmp_path / "served.png")).credential == credential  # the real decoder

        def verdict(credential: dict[str, Any]) -> dict[str, Any]:
            answer = http.post("/vc-certification/v1/certificate/verify", json=credential)  # public: no token
            assert answer.status_code == 200, answer.text
            result: dict[str, Any] = answer.json()
            return result

        # the seed's registration expired in 2025: the council renews it (an update)
        update = http.post(f"{CERTIFY}/{entity}", json=renewed(body, "614894628867"), headers=auth)
        assert update.status_code == 200, update.text
        new_id = update.json()["certificateId"]
        assert new_id != "614894628867"
        current = http.get(f"/vc-certification/v1/certificate/HealthProfessional/{new_id}", headers=auth).json()
        assert current["replaces"] == "614894628867"
        old = verdict(credential)
        # DIVOC revokes an updated certificate's old one: REVOKED on its verify route (issue 19, row 4)
        assert old["status"]["certificateStatus"] == "REVOKED" and old["successor"] == new_id
        assert verdict(current)["certificateStatus"] == "VALID"

        until = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")
        suspended = http.post(
            "/vc-certification/v1/certificate/revoke",
            json={"certificateId": new_id, "entityName": entity, "endDate": until},
            headers=auth,
        )
        assert suspended.status_code == 200 and suspended.json()["state"] == "SUSPENDED"
        assert verdict(current)["certificateStatus"] == "SUSPENDED"
        lifted = http.delete(f"/vc-certification/v1/certificate/revoke/{entity}/{new_id}", headers=auth)
        assert lifted.status_code == 200 and lifted.json()["state"] == "VALID"
        assert verdict(current)["certificateStatus"] == "VALID"
        revoked = http.post(
            "/vc-certification/v1/certificate/revoke",
            json={"certificateId": new_id, "entityName": entity},
            headers=auth,
        )
        assert revoked.status_code == 200 and revoked.json()["state"] == "REVOKED"
        assert verdict(current)["certificateStatus"] == "REVOKED"

        # the status lists are public, at the URLs the credential names: an offline verifier
        # holding only what it fetched from them says the same
        lists = {}
        for entry in current["credentialStatus"]:
            url = entry["statusListCredential"]
            fetched = http.get(url.replace("https://issuer.example", ""))
            assert fetched.status_code == 200 and fetched.headers["cache-control"].startswith("public")
            lists[url] = fetched.json()
        assert Verifier.create(status=lists).verify(current).status == "REVOKED"


@pytest.mark.slow
def test_a_server_killed_after_answering_has_lost_nothing(tmp_path: Path, store_location: str) -> None:
    """Durability: every transactionId answered names a stored certificate after a SIGKILL."""
    server = Served(tmp_path / "home", store_location)
    server.start()
    answered = []
    try:
        with httpx.Client(base_url=server.url, timeout=30, headers=bearer(TOKEN)) as http:
            for i in range(30):
                payload = {**HP.example, "certificateId": f"d{i:04d}"} if HP.example else {}
                answer = http.post(f"{CERTIFY}/HealthProfessional", json=payload)
                assert answer.status_code == 200, answer.text
                answered.append((answer.json()["transactionId"], f"d{i:04d}"))
    finally:
        server.kill()
    assert server.process is not None and server.process.returncode == -signal.SIGKILL
    store = open_store(store_location, read_only=True)
    for transaction_id, certificate_id in answered:
        record = store.get_by_transaction(transaction_id)
        assert record is not None and record.certificate_id == certificate_id


# --- the application, in process ---------------------------------------------------------------------


def make_issuer(location: str) -> Issuer:
    return Issuer(signer=KEY, store=open_store(location, status_url=BASE))


@pytest.fixture
def app_issuer(tmp_path: Path) -> Issuer:
    return make_issuer(str(tmp_path / "vccore.db"))


@pytest.fixture
def client(app_issuer: Issuer) -> TestClient:
    return TestClient(create_app(app_issuer, authorizer=StaticTokenAuthorizer(TOKEN)), headers=bearer(TOKEN))


def test_a_refused_payload_is_an_unsuccessful_transaction(client: TestClient, app_issuer: Issuer) -> None:
    assert HP.example is not None
    answer = client.post(f"{CERTIFY}/HealthProfessional", json={**HP.example, "dob": "1991-13-01", "extra": 1})
    assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "INVALID_PAYLOAD" and {p["pointer"] for p in problem["problems"]} == {"/dob", "/extra"}
    looked_up = client.get(f"/vc-management/v1/transaction/{problem['transactionId']}").json()
    assert looked_up["status"] == "UNSUCCESSFUL" and looked_up["reason"]["code"] == "INVALID_PAYLOAD"
    assert looked_up["certificateId"] == HP.example["certificateId"] and app_issuer.store.count() == 0


def test_requests_that_cannot_be_served_say_why(client: TestClient) -> None:
    assert HP.example is not None
    cases = [
        (client.get("/vc-certification/v1/certificate/Nobody/1"), 404, "UNKNOWN_ENTITY_TYPE"),
        (client.post(f"{CERTIFY}/HealthProfessional", content=b"{not json"), 400, "MALFORMED_REQUEST"),
        (client.post(f"{CERTIFY}/HealthProfessional", content=b"[1, 2]"), 400, "MALFORMED_REQUEST"),
        (client.post(f"{CERTIFY}/HealthProfessional", content=b'{"a": 1, "a": 2}'), 400, "MALFORMED_REQUEST"),
        (
            client.post(f"{CERTIFY}/HealthProfessional", content=b'{"name": "' + b"x" * MAX_BODY + b'"}'),
            413,
            "BODY_TOO_LARGE",
        ),
        (
            client.put(f"{CERTIFY}/HealthProfessional", json={**HP.example, "certificateId": "nope"}),
            404,
            "UNKNOWN_CERTIFICATE",
        ),
        (client.get("/vc-management/v1/transaction/nope"), 404, "UNKNOWN_TRANSACTION"),
        (client.get("/vc-certification/v1/certificate/HealthProfessional/nope"), 404, "UNKNOWN_CERTIFICATE"),
        (client.post("/vc-certification/v1/certificate/revoke", json={"certificateId": 5}), 400, "MALFORMED_REQUEST"),
        (
            client.post(
                "/vc-certification/v1/certificate/revoke",
                json={"certificateId": "x", "entityName": "HealthProfessional", "endDate": "soon"},
            ),
            400,
            "MALFORMED_REQUEST",
        ),
        (client.post("/vc-certification/v1/certificate/verify", content=b"\xff\xfe"), 400, "MALFORMED_REQUEST"),
        (client.get("/nowhere"), 404, "NOT_FOUND"),
        (client.delete(f"{CERTIFY}/HealthProfessional"), 405, "METHOD_NOT_ALLOWED"),
        (client.get("/status/0/revocation"), 404, "UNKNOWN_STATUS_LIST"),  # no list set yet
        (client.get("/status/x/revocation"), 404, "UNKNOWN_STATUS_LIST"),
    ]
    for answer, status, code in cases:
        assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
        assert answer.headers["content-type"] == "application/problem+json"
    issued = client.post(f"{CERTIFY}/HealthProfessional", json=dict(HP.example))
    path = f"/vc-certification/v1/certificate/HealthProfessional/{issued.json()['certificateId']}"
    refused = client.get(path, headers={"Accept": "application/msword"})
    assert refused.status_code == 406 and refused.json()["code"] == "NOT_ACCEPTABLE"
    assert client.get(path, headers={"Accept": "image/*"}).headers["content-type"] == "image/png"
    assert (
        client.get(path, headers={"Accept": "image/svg+xml;q=0.9, text/html;q=0.5"})
        .headers["content-type"]
        .startswith("image/svg+xml")
    )
    assert client.get(path, headers={"Accept": "*/*"}).headers["content-type"].startswith("application/json")
    twice = client.post(
        "/vc-certification/v1/certificate/revoke",
        json={"certificateId": issued.json()["certificateId"], "entityName": "HealthProfessional"},
    )
    assert twice.status_code == 200
    again = client.post(
        "/vc-certification/v1/certificate/revoke",
        json={"certificateId": issued.json()["certificateId"], "entityName": "HealthProfessional"},
    )
    assert again.status_code == 409 and again.json()["code"] == "INVALID_TRANSITION"


def test_verify_reads_the_credential_however_divoc_sends_it(client: TestClient) -> None:
    assert HP.example is not None
    issued = client.post(f"{CERTIFY}/HealthProfessional", json=renewed(dict(HP.example), "v-1")).json()
    credential = client.get(f"/vc-certification/v1/certificate/HealthProfessional/{issued['certificateId']}").json()
    public = TestClient(client.app)  # no token
    for body in (credential, {"verifiableCredential": credential}, {"signedCredentials": json.dumps(credential)}):
        assert public.post("/vc-certification/v1/certificate/verify", json=body).json()["certificateStatus"] == "VALID"
    forged = json.loads(json.dumps(credential))
    forged["credentialSubject"]["name"] = "Mallory"
    result = public.post("/vc-certification/v1/certificate/verify", json=forged).json()
    assert result["certificateStatus"] == "INVALID" and result["verified"] is False and result["problems"]


def test_a_credential_that_takes_more_work_is_verified_in_a_thread_with_the_whole_budget(client: TestClient) -> None:
    """The verify routes verify in the event loop what takes little work (Handlers._verify); a
    credential that needs more than that bound is verified all the same, with a request's budget."""
    wide = sign(
        {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential"],
            "issuer": KEY.controller,
            "credentialSubject": {f"https://example.org/v{i}": [f"v{i}.{j}" for j in range(20)] for i in range(30)},
        },
        KEY,
    )
    assert Verifier.create().verify_bounded(wide, json_values=500, rdfc_work=2_000) is None
    public = TestClient(client.app)
    verified = public.post("/credentials/verify", json={"verifiableCredential": wide})
    assert verified.status_code == 200 and verified.json()["verified"] is True, verified.text
    wide["credentialSubject"]["https://example.org/v0"][0] = "forged"
    refused = public.post("/credentials/verify", json={"verifiableCredential": wide})
    assert refused.status_code == 400 and refused.json()["errors"][0]["code"] == "PROOF_VERIFICATION_ERROR"


def test_the_vc_api_issues_and_verifies(client: TestClient) -> None:
    credential = {
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
        "type": ["VerifiableCredential"],
        "issuer": KEY.controller,
        "credentialSubject": {"id": "did:example:123", "name": "Dr. Asha Rao"},
    }
    issued = client.post("/credentials/issue", json={"credential": credential, "options": {}})
    assert issued.status_code == 201, issued.text
    signed = issued.json()["verifiableCredential"]
    assert signed["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    public = TestClient(client.app)
    verified = public.post("/credentials/verify", json={"verifiableCredential": signed})
    assert verified.status_code == 200 and verified.json()["verified"] is True and verified.json()["errors"] == []
    signed["credentialSubject"]["name"] = "Mallory"
    refused = public.post("/credentials/verify", json={"verifiableCredential": signed})
    assert refused.status_code == 400 and refused.json()["verified"] is False and refused.json()["errors"]
    other = client.post("/credentials/issue", json={"credential": {**credential, "issuer": "did:example:someone-else"}})
    assert other.status_code == 400 and other.json()["code"] == "ISSUER_MISMATCH"
    vc11 = {
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        "type": ["VerifiableCredential"],
        "issuer": KEY.controller,
        "issuanceDate": "2024-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:1", "undefinedTerm": 1},
    }
    undefined = client.post("/credentials/issue", json={"credential": vc11})  # VC 1.1 has no @vocab: safe mode refuses
    assert (
        undefined.status_code == 400
        and undefined.json()["code"] == "UNDEFINED_TERM"
        and undefined.json()["term"] == "undefinedTerm"
    )


def test_the_vc_api_verifies_presentations(client: TestClient) -> None:
    from vccore import sign

    assert HP.example is not None
    issued = client.post(f"{CERTIFY}/HealthProfessional", json=renewed(dict(HP.example), "p-1")).json()
    credential = client.get(f"/vc-certification/v1/certificate/HealthProfessional/{issued['certificateId']}").json()
    holder = Ed25519Key.from_seed(bytes(range(100, 132)))
    presentation = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": holder.controller,
        "verifiableCredential": [credential],
    }
    signed = sign(presentation, holder, proof_purpose="authentication", challenge="c-123", domain="verifier.example")
    public = TestClient(client.app)

    def verify(vp: Any, **options: Any) -> Any:
        return public.post("/presentations/verify", json={"verifiablePresentation": vp, "options": options})

    good = verify(signed, challenge="c-123", domain="verifier.example")
    assert good.status_code == 200 and good.json()["verified"] is True, good.text
    assert good.json()["credentialResults"][0]["status"] == "VALID"
    assert verify(presentation).status_code == 200  # unsigned, no challenge asked: the credentials vouch
    cases = [
        (verify(signed, challenge="c-999"), "INVALID_CHALLENGE_ERROR"),
        (verify(signed, challenge="c-123", domain="evil.example"), "INVALID_DOMAIN_ERROR"),
        (verify(presentation, challenge="c-123"), "MALFORMED_PROOF_ERROR"),
        # signed by a key the holder named does not control
        (
            verify(
                sign(
                    {**presentation, "holder": KEY.controller},
                    holder,
                    proof_purpose="authentication",
                    challenge="c-123",
                ),
                challenge="c-123",
            ),
            "HOLDER_MISMATCH",
        ),
        (verify(sign(presentation, holder, challenge="c-123"), challenge="c-123"), "MISMATCHED_PROOF_PURPOSE_ERROR"),
    ]
    forged = json.loads(json.dumps(presentation))
    forged["verifiableCredential"][0]["credentialSubject"]["name"] = "Mallory"
    cases.append((verify(forged), "PROOF_VERIFICATION_ERROR"))
    cases.append((verify({**presentation, "type": ["VerifiableCredential"]}), "MALFORMED_VALUE_ERROR"))
    for answer, code in cases:
        assert answer.status_code == 400 and answer.json()["verified"] is False, answer.text
        assert code in [e["code"] for e in answer.json()["errors"]], (code, answer.json()["errors"])
    assert public.post("/presentations/verify", json={"verifiablePresentation": "x"}).status_code == 400


def test_the_openapi_document_describes_every_route(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    served = {
        (route.path, method) for route in client.app.routes for method in (route.methods or ()) if method != "HEAD"
    }  # type: ignore[attr-defined]
    described = {
        (
            path.replace("{entityName}", "{entity}")
            .replace("{certificateId}", "{certificate}")
            .replace("{transactionId}", "{transaction}"),
            method.upper(),
        )
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert served == described
    assert document["components"]["schemas"]["HealthProfessionalPayload"]["properties"]["registrationId"]
    assert (
        "HealthProfessional_1"
        in document["paths"]["/vc-certification/v1/certify/{entityName}"]["parameters"][0]["schema"]["enum"]
    )


# --- authorisation ------------------------------------------------------------------------------------


def _jwk(public: Any, kid: str) -> dict[str, Any]:
    if isinstance(public, rsa.RSAPublicKey):
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))
    elif isinstance(public, ec.EllipticCurvePublicKey):
        data = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public))
    else:
        data = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(public))
    return {**data, "kid": kid, "use": "sig"}


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()
STRANGER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWKS = {
    "keys": [_jwk(RSA_KEY.public_key(), "rsa-1"), _jwk(EC_KEY.public_key(), "ec-1"), _jwk(ED_KEY.public_key(), "ed-1")]
}
ISSUER_ID = "https://keycloak.example/realms/divoc"


def token(
    scope: str | None = "certify revoke read",
    *,
    key: Any = RSA_KEY,
    alg: str = "RS256",
    kid: str | None = "rsa-1",
    **claims: Any,
) -> str:
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": ISSUER_ID,
        "aud": "vccore",
        "sub": "facility-42",
        "iat": now,
        "exp": now + 300,
        **claims,
    }
    body = {name: value for name, value in body.items() if value is not None}  # a claim given as None is left out
    if scope is not None:
        body["scope"] = scope
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(body, key, algorithm=alg, headers=headers)


def _unsigned(claims: dict[str, Any]) -> str:
    import base64

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': 'rsa-1'})}.{part(claims)}."


def _with_header(header: dict[str, Any]) -> str:
    """A token with this header, good claims and a signature of nothing: what is refused before
    any signature is checked."""
    import base64

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    return f"{part(header)}.{part({'iss': ISSUER_ID, 'aud': 'vccore', 'exp': now + 300, 'scope': 'certify revoke read'})}.AAAA"


def _hs256_with_public_key() -> str:
    """The algorithm-confusion attack: HS256 keyed with the RSA public key's PEM."""
    import base64
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import serialization

    pem = RSA_KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def part(data: dict[str, Any]) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=")

    now = int(time.time())
    signing_input = (
        part({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"})
        + b"."
        + part({"iss": ISSUER_ID, "aud": "vccore", "exp": now + 300, "scope": "certify revoke read"})
    )
    signature = base64.urlsafe_b64encode(hmac.new(pem, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    return (signing_input + b"." + signature).decode()


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def bad_tokens(needed: str) -> list[tuple[str, dict[str, str], int]]:
    """(case, headers, expected status) for a route that needs permission ``needed``."""
    now = int(time.time())
    others = " ".join(s for s in ("certify", "revoke", "read") if s != needed)
    return [
        ("no token", {}, 401),
        ("not a bearer token", {"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        ("empty bearer", bearer(""), 401),
        ("garbage", bearer("not.a.jwt"), 401),
        ("expired", bearer(token(exp=now - 120)), 401),
        ("not yet valid", bearer(token(nbf=now + 600)), 401),
        ("forged: another key", bearer(token(key=STRANGER)), 401),
        ("unknown kid", bearer(token(kid="rsa-9")), 401),
        (
            "alg none",
            bearer(_unsigned({"iss": ISSUER_ID, "aud": "vccore", "exp": now + 300, "scope": "certify revoke read"})),
            401,
        ),
        ("HS256 keyed with the public key", bearer(_hs256_with_public_key()), 401),
        ("RSA key, ES256 header", bearer(token(key=EC_KEY, alg="ES256", kid="rsa-1")), 401),
        ("wrong issuer", bearer(token(iss="https://evil.example")), 401),
        ("a part of the issuer (CVE-2024-53861)", bearer(token(iss=ISSUER_ID[:-3])), 401),
        ("exp 1e30", bearer(token(exp=1e30)), 401),
        ("exp a string", bearer(token(exp=str(now + 300))), 401),
        ("exp true", bearer(token(exp=True)), 401),
        ("a lifetime of a year", bearer(token(exp=now + 365 * 86400)), 401),
        ("a key id beyond Latin-1", bearer(token(kid="ключ")), 401),
        ("an algorithm beyond Latin-1", bearer(_with_header({"alg": "ключ", "kid": "rsa-1"})), 401),
        (
            "a critical extension with a line break",
            bearer(_with_header({"alg": "RS256", "kid": "rsa-1", "crit": ["x\r\nX-Injected: 1"]})),
            401,
        ),
        ("wrong audience", bearer(token(aud="someone-else")), 401),
        ("no exp", bearer(token(exp=None)), 401),
        ("a signature cut short", bearer(token()[:-10]), 401),
        ("the static token of another server", bearer(TOKEN), 401),
        ("no scope at all", bearer(token(None)), 403),
        (f"every scope but {needed}", bearer(token(others)), 403),
    ]


@pytest.fixture
def jwt_app(tmp_path: Path, store_location: str) -> tuple[TestClient, Issuer]:
    issuer = make_issuer(store_location)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(JWKS))
    authorizer = JwtAuthorizer.from_file(jwks, issuer=ISSUER_ID, audience="vccore")
    return TestClient(create_app(issuer, authorizer=authorizer)), issuer


def _state(issuer: Issuer) -> tuple[Any, ...]:
    store = issuer.store
    records = [store.get(c) for c in ("a-0001", "a-0002")]
    return store.count(), tuple(None if r is None else (r.state, r.replaced_by, r.suspended_until) for r in records)


def test_every_protected_route_refuses_every_bad_token_and_changes_nothing(jwt_app: tuple[TestClient, Issuer]) -> None:
    """Issue #9, point 2."""
    client, issuer = jwt_app
    assert HP.example is not None
    good = bearer(token())
    first = client.post(f"{CERTIFY}/HealthProfessional", json={**HP.example, "certificateId": "a-0001"}, headers=good)
    assert first.status_code == 200, first.text
    assert (
        client.post(
            f"{CERTIFY}/HealthProfessional", json={**HP.example, "certificateId": "a-0002"}, headers=good
        ).status_code
        == 200
    )
    assert (
        client.post(
            "/vc-certification/v1/certificate/revoke",
            json={"certificateId": "a-0002", "entityName": "HealthProfessional", "endDate": "2099-01-01"},
            headers=good,
        ).status_code
        == 200
    )
    transaction = first.json()["transactionId"]
    routes = [
        ("certify", "POST", f"{CERTIFY}/HealthProfessional", {**HP.example, "certificateId": "a-0003"}),
        ("certify", "POST", f"{CERTIFY}/HealthProfessional", {**HP.example, "certificateId": "a-0001"}),  # an update
        ("certify", "PUT", f"{CERTIFY}/HealthProfessional", {**HP.example, "certificateId": "a-0001"}),
        (
            "certify",
            "POST",
            "/credentials/issue",
            {
                "credential": {
                    "@context": ["https://www.w3.org/ns/credentials/v2"],
                    "type": ["VerifiableCredential"],
                    "issuer": KEY.controller,
                    "credentialSubject": {"id": "did:example:1"},
                }
            },
        ),
        (
            "revoke",
            "POST",
            "/vc-certification/v1/certificate/revoke",
            {"certificateId": "a-0001", "entityName": "HealthProfessional"},
        ),
        (
            "revoke",
            "POST",
            "/vc-certification/v1/certificate/revoke",
            {"certificateId": "a-0001", "entityName": "HealthProfessional", "endDate": "2099-01-01"},
        ),
        ("revoke", "DELETE", "/vc-certification/v1/certificate/revoke/HealthProfessional/a-0002", None),
        ("read", "GET", f"/vc-management/v1/transaction/{transaction}", None),
        ("read", "GET", "/vc-certification/v1/certificate/HealthProfessional/a-0001", None),
    ]
    before = _state(issuer)
    refused = 0
    for needed, method, path, body in routes:
        for case, headers, status in bad_tokens(needed):
            answer = client.request(method, path, json=body, headers=headers)
            assert answer.status_code == status, (method, path, case, answer.text)
            assert "credential" not in answer.text and "transactionId" not in answer.json(), (path, case)
            challenge = answer.headers["www-authenticate"]
            assert challenge.startswith("Bearer") and ("insufficient_scope" in challenge) == (status == 403), (
                case,
                challenge,
            )
            assert all(" " <= c <= "~" for c in challenge), (case, challenge)  # one printable ASCII line
            assert "x-injected" not in answer.headers, case
            refused += 1
        assert _state(issuer) == before, (method, path)
    assert refused == len(routes) * len(bad_tokens("read"))
    # the same routes with a good token do what they say (so the refusals above were the token's)
    assert (
        client.get(
            "/vc-certification/v1/certificate/HealthProfessional/a-0001", headers=bearer(token("read"))
        ).status_code
        == 200
    )
    ec_token = token("revoke", key=EC_KEY, alg="ES256", kid="ec-1")
    assert (
        client.delete(
            "/vc-certification/v1/certificate/revoke/HealthProfessional/a-0002", headers=bearer(ec_token)
        ).status_code
        == 200
    )
    roles = token(
        None, key=ED_KEY, alg="EdDSA", kid="ed-1", realm_access={"roles": ["certify"]}
    )  # Keycloak's realm roles
    assert (
        client.post(
            f"{CERTIFY}/HealthProfessional", json={**HP.example, "certificateId": "a-0004"}, headers=bearer(roles)
        ).status_code
        == 200
    )
    # verifying and the status lists are public
    # (406: DIVOC's answer to a credential that does not verify, not a refusal of the caller)
    assert client.post("/vc-certification/v1/certificate/verify", json={"verifiableCredential": {}}).status_code == 406
    assert client.get("/status/0/revocation").status_code == 200


def test_a_static_token_server_refuses_everything_else(client: TestClient) -> None:
    assert HP.example is not None
    for headers in ({}, bearer(TOKEN[:-1]), bearer(TOKEN + "x"), bearer(token())):
        answer = client.post(
            f"{CERTIFY}/HealthProfessional",
            json=dict(HP.example),
            headers={**headers} if headers else {"Authorization": ""},
        )
        assert answer.status_code == 401
    with pytest.raises(ValueError):
        StaticTokenAuthorizer("short")


def test_the_vc_api_issue_checks_the_data_model_and_gives_status_when_asked(
    client: TestClient, app_issuer: Issuer
) -> None:
    base = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": KEY.controller,
        "credentialSubject": {"id": "did:example:1", "name": "x"},
    }
    refused = [
        {**base, "credentialSubject": {}},
        {**base, "credentialStatus": {"id": "https://example.org/s#1"}},
        {**base, "credentialSchema": {"type": "JsonSchema", "id": "https ://not a url"}},
        {**base, "termsOfUse": [{"id": "https://example.org/tou"}]},
        {**base, "name": {"@value": "x", "url": "https://example.org"}},
        {**base, "relatedResource": [{"id": "https://www.w3.org/ns/credentials/v2"}]},
        {**base, "relatedResource": [{"id": "https://www.w3.org/ns/credentials/v2", "digestMultibase": "uAAAA"}]},
    ]
    for credential in refused:
        answer = client.post("/credentials/issue", json={"credential": credential})
        if "credentialSchema" in credential or "name" in credential:
            # not a URL, not a value object: what safe mode refuses before any data model check
            assert answer.status_code == 400 and answer.json()["code"] in ("RELATIVE_IRI", "UNDEFINED_TERM"), (
                answer.text
            )
            assert answer.json()["path"] in ("credentialSchema.id", "name.url"), answer.text
            continue
        assert answer.status_code == 400 and answer.json()["code"] == "MALFORMED_VALUE_ERROR", (credential, answer.text)
        assert answer.json()["problems"] and all(p["code"] and p["detail"] for p in answer.json()["problems"])
    # the REC's own digest of the VC 2.0 context (contexts/SOURCE.md): accepted
    right = {
        **base,
        "relatedResource": [
            {
                "id": "https://www.w3.org/ns/credentials/v2",
                "digestMultibase": "uWZVc7WaX1h4D8rJVb-vlMIqxaEKEb1tYbX8fet7JJzQ",
            }
        ],
    }
    assert client.post("/credentials/issue", json={"credential": right}).status_code == 201
    # Ed25519Signature2020 on request; status entries on request, recorded in the store
    ed = client.post(
        "/credentials/issue", json={"credential": base, "options": {"type": "Ed25519Signature2020"}}
    ).json()["verifiableCredential"]
    assert ed["proof"]["type"] == "Ed25519Signature2020"
    assert (
        client.post(
            "/credentials/issue", json={"credential": base, "options": {"cryptosuite": "ecdsa-rdfc-2019"}}
        ).status_code
        == 400
    )
    with_status = client.post(
        "/credentials/issue",
        json={"credential": base, "options": {"credentialStatus": {"type": "BitstringStatusListEntry"}}},
    )
    signed = with_status.json()["verifiableCredential"]
    assert [e["statusPurpose"] for e in signed["credentialStatus"]] == ["revocation", "suspension"]
    assert app_issuer.store.count() == 3  # every credential the VC API signs is recorded
    public = TestClient(client.app)
    assert public.post("/credentials/verify", json={"verifiableCredential": signed}).status_code == 200
    url = signed["credentialStatus"][0]["statusListCredential"]
    assert (
        public.get(url.replace("https://issuer.example", "")).json()["credentialSubject"]["statusPurpose"]
        == "revocation"
    )


def test_serve_speaks_https_with_the_certificate_given(tmp_path: Path) -> None:
    """`vccore serve --tls-cert --tls-key`: HTTPS on the port, with that certificate."""
    import importlib.util
    import ssl

    # the same helper the W3C suite runs use
    spec = importlib.util.spec_from_file_location(
        "w3c_run", Path(__file__).resolve().parent.parent / "interop" / "w3c" / "run.py"
    )
    assert spec is not None and spec.loader is not None
    w3c_run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(w3c_run)
    cert, key = w3c_run.self_signed(tmp_path)
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vccore",
            "serve",
            "--port",
            str(port),
            "--home",
            str(tmp_path / "home"),
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
            "--log-level",
            "warning",
        ],
        env={**os.environ, "VCCORE_API_TOKEN": TOKEN},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        context = ssl.create_default_context(cafile=str(cert))
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(f"https://127.0.0.1:{port}/health", verify=context, timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        assert answer.status_code == 200 and answer.json() == {"status": "ok"}
        with pytest.raises(httpx.HTTPError):  # plain HTTP on the same port is not served
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
    finally:
        process.terminate()
        process.wait(timeout=30)
    usage = subprocess.run(
        [sys.executable, "-m", "vccore", "serve", "--tls-cert", str(cert), "--home", str(tmp_path / "h2")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert usage.returncode == 2 and "--tls-cert and --tls-key go together" in usage.stderr


def test_put_updates_and_post_with_a_known_id_updates_too(client: TestClient, app_issuer: Issuer) -> None:
    assert HP.example is not None
    first = client.post(f"{CERTIFY}/HealthProfessional", json={**HP.example, "certificateId": "u-1"}).json()
    second = client.put(
        f"{CERTIFY}/HealthProfessional", json={**HP.example, "certificateId": "u-1", "name": "Neha R."}
    ).json()
    third = client.post(
        f"{CERTIFY}/HealthProfessional", json={**HP.example, "certificateId": second["certificateId"]}
    ).json()
    chain = app_issuer.fetch("u-1")
    assert [r.certificate_id for r in chain] == ["u-1", second["certificateId"], third["certificateId"]]
    assert [r.state for r in chain] == ["SUPERSEDED", "SUPERSEDED", "VALID"] and first["certificateId"] == "u-1"


# --- whom the verify routes trust (issue #16, point 4) -------------------------------------------


def _forged_by(signer: Ed25519Key) -> dict[str, Any]:
    """A real certificate's payload, signed by someone else's key as its issuer."""
    from vccore import issue

    assert HP.example is not None
    return issue("HealthProfessional", renewed(dict(HP.example), "614894628867"), signer=signer)


def _verdicts(client: TestClient, credential: dict[str, Any]) -> tuple[str, list[str], list[str], list[str]]:
    """What the DIVOC route, /credentials/verify and /presentations/verify say of a credential:
    the DIVOC certificateStatus and each route's problem codes (of the credential in the
    presentation: the presentation's own proof is not what is asked here)."""
    divoc = client.post("/vc-certification/v1/certificate/verify", json=credential).json()
    vc_api = client.post("/credentials/verify", json={"verifiableCredential": credential}).json()
    presentation = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "verifiableCredential": [credential],
    }
    vp_api = client.post("/presentations/verify", json={"verifiablePresentation": presentation}).json()
    return (
        divoc["certificateStatus"],
        [p["code"] for p in divoc["problems"]],
        [e["code"] for e in vc_api["errors"]],
        [e["code"] for e in vp_api["errors"] if "credential" in e],
    )


def test_the_verify_routes_trust_the_servers_own_issuer_only(app_issuer: Issuer) -> None:
    """A credential signed by a fresh did:key with a real certificate's payload is not VALID on
    any verify route, unless the server is told to trust that issuer."""
    stranger = Ed25519Key.generate()
    forged = _forged_by(stranger)
    public = TestClient(create_app(app_issuer, authorizer=StaticTokenAuthorizer(TOKEN)))
    status, divoc, vc_api, vp_api = _verdicts(public, forged)
    assert status == "INVALID" and "UNTRUSTED_ISSUER" in divoc, (status, divoc)
    assert "UNTRUSTED_ISSUER" in vc_api and "UNTRUSTED_ISSUER" in vp_api, (vc_api, vp_api)
    # its own certificates still verify
    own = TestClient(public.app, headers=bearer(TOKEN))
    issued = own.post(f"{CERTIFY}/HealthProfessional", json=renewed(dict(HP.example or {}), "t-1")).json()
    credential = own.get(f"/vc-certification/v1/certificate/HealthProfessional/{issued['certificateId']}").json()
    assert _verdicts(public, credential) == ("VALID", [], [], [])
    # trusted by name, or by its key: VALID on every route
    for options in ({"trusted_issuers": [stranger.controller]}, {"verification_methods": [stranger.to_multikey()]}):
        widened = TestClient(create_app(app_issuer, authorizer=StaticTokenAuthorizer(TOKEN), **options))  # type: ignore[arg-type]
        assert _verdicts(widened, forged) == ("VALID", [], [], []), options
        assert _verdicts(widened, credential) == ("VALID", [], [], [])
    # a general VC API verifier (vccore serve --any-issuer, as the W3C suites need): any issuer
    # that controls the key that signed
    general = TestClient(create_app(app_issuer, authorizer=StaticTokenAuthorizer(TOKEN), any_issuer=True))
    assert _verdicts(general, forged) == ("VALID", [], [], [])
    with pytest.raises(ValueError, match="verifier"):
        create_app(
            app_issuer,
            authorizer=StaticTokenAuthorizer(TOKEN),
            verifier=Verifier.create(),
            trusted_issuers=["did:example:1"],
        )


def test_serve_issuer_and_trust_widen_what_the_verify_routes_trust(tmp_path: Path) -> None:
    """`vccore serve --issuer ID --trust FILE`: as `vccore verify`'s options, beside its own issuer."""
    from vccore.dids import did_document

    by_name, unknown = Ed25519Key.generate(), Ed25519Key.generate()
    by_document = Ed25519Key.generate(id="did:web:council.example#key-1", controller="did:web:council.example")
    trust = tmp_path / "council.json"
    trust.write_text(json.dumps(did_document(by_document)))
    server = Served(
        tmp_path / "home", str(tmp_path / "vccore.db"), "--issuer", by_name.controller, "--trust", str(trust)
    )
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for signer, expected in ((by_name, "VALID"), (by_document, "VALID"), (unknown, "INVALID")):
                answer = http.post("/vc-certification/v1/certificate/verify", json=_forged_by(signer)).json()
                assert answer["certificateStatus"] == expected, (signer.controller, answer)
                verified = http.post("/credentials/verify", json={"verifiableCredential": _forged_by(signer)})
                assert (verified.status_code == 200) == (expected == "VALID"), verified.text
    finally:
        said = server.stop()
    assert by_name.controller in said and "did:web:council.example" in said  # the start line names whom it trusts
    for options, words in (
        (["--trust", str(tmp_path / "nowhere.json")], "nowhere.json"),
        (["--issuer", "nobody"], "--issuer"),
        (["--any-issuer", "--issuer", by_name.controller], "--any-issuer"),
    ):
        refused = subprocess.run(
            [sys.executable, "-m", "vccore", "serve", "--home", str(tmp_path / "h2"), *options],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "VCCORE_API_TOKEN": TOKEN},
        )
        assert refused.returncode == 2 and words in refused.stderr, refused.stderr


def test_a_did_web_server_verifies_what_its_retired_keys_signed(tmp_path: Path) -> None:
    """The server knows its own keys: a did:web issuer's key, and (from the did.json beside it)
    the keys it rotated away from, whose certificates still verify."""
    from vccore.cli import main

    home = tmp_path / "home"
    assert main(["keygen", "--out", str(home), "--did-web", "council.example"]) == 0
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(renewed(dict(HP.example or {}), "w-1")))
    old = tmp_path / "old.json"
    assert (
        main(["certify", "HealthProfessional", str(payload), "--home", str(home), "--status-url", BASE, "-o", str(old)])
        == 0
    )
    assert main(["keygen", "--out", str(home), "--rotate"]) == 0
    server = Served(home, str(home / "vccore.db"))
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            answer = http.post("/vc-certification/v1/certificate/verify", json=json.loads(old.read_text())).json()
            assert answer["certificateStatus"] == "VALID", answer
            issued = http.post(
                f"{CERTIFY}/HealthProfessional", json=renewed(dict(HP.example or {}), "w-2"), headers=bearer(TOKEN)
            ).json()
            new = http.get(
                f"/vc-certification/v1/certificate/HealthProfessional/{issued['certificateId']}", headers=bearer(TOKEN)
            ).json()
            assert new["proof"]["verificationMethod"].endswith("#key-2")
            assert http.post("/vc-certification/v1/certificate/verify", json=new).json()["certificateStatus"] == "VALID"
    finally:
        server.stop()
    (home / "did.json").write_text(
        json.dumps({**json.loads((home / "did.json").read_text()), "id": "did:web:elsewhere.example"})
    )
    refused = subprocess.run(
        [sys.executable, "-m", "vccore", "serve", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "VCCORE_API_TOKEN": TOKEN},
    )
    assert refused.returncode == 2 and "did.json" in refused.stderr and "did:web:elsewhere.example" in refused.stderr, (
        refused.stderr
    )


# --- the status cache (issue #16, point 6.1) --------------------------------------------------------


class _PausingIssuer(Issuer):
    """An issuer whose first status list set, once read from the store, waits to be let go: a
    verify that has read the store and not yet cached what it read."""

    def __init__(self, **options: Any) -> None:
        import threading

        super().__init__(**options)
        self.read, self.go = threading.Event(), threading.Event()
        self.paused = False

    def status_list_set(self, list_number: int, *, now: datetime | None = None) -> dict[str, dict[str, Any]]:
        made = super().status_list_set(list_number, now=now)
        if not self.paused:
            self.paused = True
            self.read.set()
            assert self.go.wait(30)
        return made


def test_a_revoke_answered_during_a_verify_is_seen_by_the_next_verify(tmp_path: Path) -> None:
    import threading

    issuer = _PausingIssuer(signer=KEY, store=open_store(tmp_path / "vccore.db", status_url=BASE))
    app = create_app(issuer, authorizer=StaticTokenAuthorizer(TOKEN), status_ttl=60)  # a stale set would stay 60 s
    client, public = TestClient(app, headers=bearer(TOKEN)), TestClient(app)
    issued = client.post(f"{CERTIFY}/HealthProfessional", json=renewed(dict(HP.example or {}), "r-1")).json()
    credential = client.get(f"/vc-certification/v1/certificate/HealthProfessional/{issued['certificateId']}").json()
    verdicts: list[str] = []
    racing = threading.Thread(
        target=lambda: verdicts.append(
            public.post("/vc-certification/v1/certificate/verify", json=credential).json()["certificateStatus"]
        )
    )
    racing.start()
    try:
        assert issuer.read.wait(30)  # the verify has read the store: still VALID there
        revoked = client.post(
            "/vc-certification/v1/certificate/revoke", json={"certificateId": "r-1", "entityName": "HealthProfessional"}
        )
        assert revoked.status_code == 200 and revoked.json()["state"] == "REVOKED"
    finally:
        issuer.go.set()
        racing.join(30)
    assert verdicts == ["VALID"]  # it read the store before the revoke was committed
    after = public.post("/vc-certification/v1/certificate/verify", json=credential).json()
    assert after["certificateStatus"] == "REVOKED", after


def test_a_new_payload_is_certified_without_a_thread_and_the_rest_the_long_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A POST of a new payload goes from the event loop to the group commit (which looks its
    keys up with the group's): no thread of its own. The same payload again, a refused one and a
    POST of a stored certificateId (an update) take the long way, in a thread, with the answers
    they had."""
    from vccore.http import divoc

    hops: list[str] = []
    real = divoc.run_in_threadpool

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(func.__name__)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(divoc, "run_in_threadpool", counted)
    issuer = make_issuer(str(tmp_path / "vccore.db"))
    client = TestClient(create_app(issuer, authorizer=StaticTokenAuthorizer(TOKEN)), headers=bearer(TOKEN))
    payload = renewed(dict(HP.example or {}), "n-1")
    first = client.post(f"{CERTIFY}/HealthProfessional", json=payload)
    assert first.status_code == 200 and first.json()["certificateId"] == "n-1" and hops == []
    again = client.post(f"{CERTIFY}/HealthProfessional", json=payload)
    assert again.json() == first.json() and hops == ["_certify"]
    refused = client.post(f"{CERTIFY}/HealthProfessional", json={**payload, "certificateId": "n-2", "name": 3})
    assert refused.status_code == 422 and refused.json()["code"] == "INVALID_PAYLOAD"
    assert hops == ["_certify"] * 2
    updated = client.post(f"{CERTIFY}/HealthProfessional", json={**payload, "name": "Dr. Other"})
    assert updated.status_code == 200 and hops == ["_certify"] * 3
    successor = issuer.store.get(updated.json()["certificateId"])
    assert successor is not None and successor.replaces == "n-1"
    assert issuer.store.count() == 2


class _SlowSigningIssuer(Issuer):
    """An issuer that counts the status list sets it signs; while ``blocked`` is set, each signing
    waits for ``go`` (``started`` says that one began)."""

    def __init__(self, **options: Any) -> None:
        import threading

        super().__init__(**options)
        self.signed = 0
        self.blocked, self.started, self.go = threading.Event(), threading.Event(), threading.Event()

    def status_list_set(self, list_number: int, *, now: datetime | None = None) -> dict[str, dict[str, Any]]:
        self.signed += 1
        if self.blocked.is_set():
            self.started.set()
            assert self.go.wait(30)
        return super().status_list_set(list_number, now=now)


def _status_cache_on_a_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[_SlowSigningIssuer, Any, list[float]]:
    """A status cache (time to live 5 s) on a store with one certificate, its clock ``clock[0]``."""
    import types

    from vccore.http import _status_cache
    from vccore.http._status_cache import StatusCache

    clock = [1000.0]
    monkeypatch.setattr(_status_cache, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    issuer = _SlowSigningIssuer(signer=KEY, store=open_store(tmp_path / "vccore.db", status_url=BASE))
    issuer.certify(HP, renewed(dict(HP.example or {}), "t-1"))
    return issuer, StatusCache(issuer, ttl=5.0), clock


def test_a_status_set_past_its_time_is_served_while_it_is_signed_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past its time to live (and before twice that), a set no change is known of is served at
    once while one thread signs it anew: no verify waits for the signing (which made the tail of
    the verify latencies under load). A change is never served from before; twice as old, a set
    is made anew before it is served."""
    import threading

    issuer, cache, clock = _status_cache_on_a_clock(tmp_path, monkeypatch)
    first = cache.get(0)
    assert issuer.signed == 1 and cache.get(0) is first
    clock[0] += 5.0  # past its time: served, and signed anew in the background
    issuer.blocked.set()
    served: list[Any] = []
    reader = threading.Thread(target=lambda: served.append(cache.get(0)))
    reader.start()
    assert issuer.started.wait(30)  # the background signing has begun, and waits
    reader.join(30)
    assert not reader.is_alive() and served == [first]  # answered without waiting for it
    assert cache.get(0) is first and issuer.signed == 2  # one signing at a time
    issuer.go.set()
    for _ in range(300):
        if cache.get(0) is not first:
            break
        time.sleep(0.01)
    renewed_set = cache.get(0)
    assert renewed_set is not first and issuer.signed == 2
    issuer.blocked.clear()
    cache.invalidate(0)  # a change: never served from before
    assert cache.get(0) is not renewed_set and issuer.signed == 3
    current = cache.get(0)
    clock[0] += 10.0  # twice its time: made anew before it is served
    assert cache.get(0) is not current and issuer.signed == 4


def test_a_status_set_that_cannot_be_signed_anew_in_the_background_is_logged_then_met(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A background signing that fails says so in the log and leaves the set as it was; twice
    its time old, the set is made before it is served, and the failure reaches the request."""
    from vccore.codes import ErrorCode
    from vccore.store import LifecycleError

    issuer, cache, clock = _status_cache_on_a_clock(tmp_path, monkeypatch)
    first = cache.get(0)

    def failing(list_number: int, *, now: datetime | None = None) -> dict[str, dict[str, Any]]:
        raise LifecycleError("the store is down", code=ErrorCode.STORE_ERROR)

    monkeypatch.setattr(issuer, "status_list_set", failing)
    clock[0] += 6.0
    with caplog.at_level("WARNING", logger="vccore.http"):
        assert cache.get(0) is first
        for _ in range(300):
            if "could not be signed anew" in caplog.text:
                break
            time.sleep(0.01)
    assert "status list set 0 could not be signed anew" in caplog.text
    assert cache.get(0) is first  # kept, and tried again in the background
    clock[0] += 5.0
    with pytest.raises(LifecycleError, match="the store is down"):
        cache.get(0)


def test_an_update_that_carries_a_suspension_into_another_list_set_is_seen_at_once(tmp_path: Path) -> None:
    """An update gives the successor a position of its own, in the current list set, suspended
    when its predecessor was: that set's cached lists change too."""
    import sqlite3
    from contextlib import closing

    from vccore.store import LIST_SIZE

    location = tmp_path / "vccore.db"
    issuer = make_issuer(str(location))
    app = create_app(issuer, authorizer=StaticTokenAuthorizer(TOKEN), status_ttl=60)
    client, public = TestClient(app, headers=bearer(TOKEN)), TestClient(app)

    def certificate(certificate_id: str) -> dict[str, Any]:
        found: dict[str, Any] = client.get(
            f"/vc-certification/v1/certificate/HealthProfessional/{certificate_id}"
        ).json()
        return found

    def verdict(credential: dict[str, Any]) -> str:
        status: str = public.post("/vc-certification/v1/certificate/verify", json=credential).json()[
            "certificateStatus"
        ]
        return status

    # s-1 through another store object (another worker, say): the app's own reserves the positions
    # of its next certificates with each one it records, and those would still be in list set 0
    make_issuer(str(location)).certify("HealthProfessional", renewed(dict(HP.example or {}), "s-1"))
    with closing(sqlite3.connect(location)) as db, db:  # list set 0 full, as after 131,072 certificates
        db.execute("UPDATE status_lists SET next = ?", (LIST_SIZE,))
    assert client.post(f"{CERTIFY}/HealthProfessional", json=renewed(dict(HP.example or {}), "s-2")).status_code == 200
    second = issuer.store.get("s-2")
    assert second is not None and second.status_list == 1
    assert verdict(certificate("s-2")) == "VALID"  # list set 1, cached
    until = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")
    assert (
        client.post(
            "/vc-certification/v1/certificate/revoke",
            json={"certificateId": "s-1", "entityName": "HealthProfessional", "endDate": until},
        ).status_code
        == 200
    )
    updated = client.put(f"{CERTIFY}/HealthProfessional", json=renewed(dict(HP.example or {}), "s-1")).json()
    successor = issuer.store.get(updated["certificateId"])
    assert successor is not None and (successor.status_list, successor.state) == (1, "SUSPENDED")
    assert verdict(certificate(updated["certificateId"])) == "SUSPENDED"


# --- no request makes a server error (issue #16, point 6.2) ------------------------------------------


def test_unauthenticated_requests_get_no_server_error(client: TestClient) -> None:
    public = TestClient(client.app, raise_server_exceptions=False)
    for path in ("/status/%C2%B2/revocation", "/status/%D9%A3/revocation", "/status/1%C2%B9/suspension"):
        answer = public.get(path)  # "²".isdigit() is True, and int("²") fails
        assert (answer.status_code, answer.json()["code"]) == (404, "UNKNOWN_STATUS_LIST"), (path, answer.text)


def test_a_content_length_of_other_digits_is_refused(client: TestClient) -> None:
    """A Content-Length header of digits beyond ASCII ('²', Latin-1 byte 0xB2), straight into the
    application (an HTTP parser in front may refuse it first)."""
    import asyncio

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/credentials/verify",
        "raw_path": b"/credentials/verify",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-length", b"\xb2"), (b"content-type", b"application/json")],
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
    }
    asyncio.run(client.app(scope, receive, send))  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = json.loads(b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))
    assert (start["status"], body["code"]) == (400, "MALFORMED_REQUEST") and body["field"] == "Content-Length", body


def test_an_end_date_out_of_range_is_refused_by_name(client: TestClient) -> None:
    issued = client.post(f"{CERTIFY}/HealthProfessional", json=renewed(dict(HP.example or {}), "e-1"))
    assert issued.status_code == 200
    checked = TestClient(client.app, headers=bearer(TOKEN), raise_server_exceptions=False)
    for end in ("9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"):
        answer = checked.post(
            "/vc-certification/v1/certificate/revoke",
            json={"certificateId": "e-1", "entityName": "HealthProfessional", "endDate": end},
        )
        assert answer.status_code == 400 and answer.json()["field"] == "endDate" and end in answer.json()["detail"], (
            answer.text
        )
    assert (
        client.post(
            "/vc-certification/v1/certificate/revoke",
            json={"certificateId": "e-1", "entityName": "HealthProfessional", "endDate": "9999-12-30"},
        ).json()["state"]
        == "SUSPENDED"
    )


# --- tokens (issue #16, points 6.3 and 6.4) -----------------------------------------------------------


def test_pyjwt_is_at_least_the_release_that_fixed_the_partial_iss_match() -> None:
    """CVE-2024-53861: PyJWT 2.10.0 took an iss that was a part of the expected one."""
    import tomllib
    from importlib.metadata import version

    from packaging.requirements import Requirement
    from packaging.version import Version

    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]
    for extra in ("server", "test"):
        (pyjwt,) = [Requirement(r) for r in project["optional-dependencies"][extra] if r.startswith("pyjwt")]
        assert not pyjwt.specifier.contains("2.10.0") and pyjwt.specifier.contains("2.10.1"), (extra, str(pyjwt))
    assert Version(version("pyjwt")) >= Version("2.10.1")


def test_a_token_needs_an_integer_exp_and_a_bounded_lifetime(tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(JWKS))
    issuer = make_issuer(str(tmp_path / "vccore.db"))
    now = int(time.time())
    client = TestClient(
        create_app(issuer, authorizer=JwtAuthorizer.from_file(jwks, issuer=ISSUER_ID, audience="vccore"))
    )
    refused = [
        (token(exp=1e30), "exp"),
        (token(exp=str(now + 300)), "exp"),
        (token(exp=True), "exp"),
        (token(exp=now + 300.5), "exp"),
        (token(iat=str(now)), "iat"),
        (token(nbf=[now]), "nbf"),
        (token(exp=now + 86400 + 60), "86400"),  # a day is the default longest lifetime
        (token(iat=None, exp=now + 86400 + 120), "86400"),  # without iat: from now
    ]
    for bad, words in refused:
        answer = client.get("/vc-management/v1/transaction/x", headers=bearer(bad))
        assert answer.status_code == 401 and words in answer.json()["detail"], (
            jwt.decode(bad, options={"verify_signature": False}),
            answer.text,
        )
    for good in (token(exp=now + 86400), token(iat=None, exp=now + 3600)):
        assert (
            client.get("/vc-management/v1/transaction/x", headers=bearer(good)).status_code == 404
        )  # let in: no such transaction
    shorter = TestClient(
        create_app(
            issuer, authorizer=JwtAuthorizer.from_file(jwks, issuer=ISSUER_ID, audience="vccore", max_lifetime=600)
        )
    )
    assert shorter.get("/vc-management/v1/transaction/x", headers=bearer(token(exp=now + 900))).status_code == 401
    assert shorter.get("/vc-management/v1/transaction/x", headers=bearer(token(exp=now + 300))).status_code == 404
    for expired, words in (
        (token(exp=now - 120), "expired"),
        (token(nbf=now + 600), "not yet valid"),
        (token(iat=now + 600), "not yet valid"),
    ):
        answer = client.get("/vc-management/v1/transaction/x", headers=bearer(expired))
        assert answer.status_code == 401 and words in answer.json()["detail"], answer.text


def test_jwt_mode_says_at_start_what_it_does_not_check(tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(JWKS))
    said = {}
    for name, options in (("neither", ()), ("both", ("--jwt-issuer", ISSUER_ID, "--jwt-audience", "vccore"))):
        server = Served(tmp_path / name, str(tmp_path / f"{name}.db"), "--jwks", str(jwks), *options)
        server.start()
        said[name] = server.stop()
    assert "warning" in said["neither"] and "--jwt-audience" in said["neither"] and "--jwt-issuer" in said["neither"], (
        said["neither"]
    )
    assert "warning" not in said["both"], said["both"]
    assert "tokens live at most 86400 s" in said["both"], said["both"]
    for options in (
        ["--jwks", str(jwks), "--jwt-max-lifetime", "0"],
        ["--jwt-audience", "vccore"],
    ):  # the latter without --jwks
        refused = subprocess.run(
            [sys.executable, "-m", "vccore", "serve", "--home", str(tmp_path / "h"), *options],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "VCCORE_API_TOKEN": TOKEN},
        )
        assert refused.returncode == 2 and options[-2] in refused.stderr, refused.stderr


# --- files only their owner reads (issue #16, point 6.5) ------------------------------------------------


def test_serve_refuses_an_api_token_file_others_can_read(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "api-token").write_text(TOKEN + "\n")
    (home / "api-token").chmod(0o644)
    env = {k: v for k, v in os.environ.items() if k != "VCCORE_API_TOKEN"}
    command = [sys.executable, "-m", "vccore", "serve", "--home", str(home), "--port", str(free_port())]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=30, env=env)  # served before: timed out
    assert refused.returncode == 2, refused.stderr
    assert str(home / "api-token") in refused.stderr and "chmod 600" in refused.stderr and "0644" in refused.stderr, (
        refused.stderr
    )


# --- /credentials/issue is not a blank cheque (issue #16) ------------------------------------------


def _vc_api_base() -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": KEY.controller,
        "validFrom": "2024-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:1", "name": "x"},
    }


def test_the_vc_api_cannot_sign_what_the_issuers_machinery_owns(client: TestClient, app_issuer: Issuer) -> None:
    """The review's attack: a token that may certify signed a status list credential with the real
    list's id and an all-zero list, which turned a revoked certificate VALID for a verifier holding
    that list. Refused now, however spelled, with every other document the issuer's own machinery
    owns."""
    from vccore.status import Bitstring, status_list_credential

    assert HP.example is not None
    issued = client.post(f"{CERTIFY}/HealthProfessional", json=renewed(dict(HP.example), "t-owned")).json()
    record = app_issuer.store.get(issued["certificateId"])
    assert record is not None
    client.post(
        "/vc-certification/v1/certificate/revoke",
        json={"certificateId": record.certificate_id, "entityName": "HealthProfessional"},
    )
    url = record.credential["credentialStatus"][0]["statusListCredential"]
    zeros = status_list_credential(
        url,
        issuer=KEY.controller,
        purpose="revocation",
        bits=Bitstring.zeros(131072),
        valid_from="2024-01-01T00:00:00Z",
    )
    spelled = json.loads(
        json.dumps(zeros).replace(
            '"BitstringStatusListCredential"',
            '"https://www.w3.org/ns/credentials/status#BitstringStatusListCredential"',
        )
    )
    aliased = {
        **_vc_api_base(),
        "@context": ["https://www.w3.org/ns/credentials/v2", {"mine": "https://www.w3.org/ns/credentials/status#"}],
        "type": ["VerifiableCredential", "mine:BitstringStatusListCredential"],
    }
    hidden_status = {
        **_vc_api_base(),
        "https://www.w3.org/2018/credentials#credentialStatus": {
            "id": f"{url}#1",
            "type": "https://www.w3.org/ns/credentials/status#BitstringStatusListEntry",
        },
    }
    refused = {
        "the real list's id, all zeros": (zeros, "RESERVED_BY_ISSUER"),
        "its type as a full IRI": (spelled, "RESERVED_BY_ISSUER"),
        "a status type by a prefix of the caller's": (aliased, "RESERVED_BY_ISSUER"),
        "an id under the status URLs": ({**_vc_api_base(), "id": f"{url}#forged"}, "RESERVED_BY_ISSUER"),
        "an entity type's credential": (
            {**_vc_api_base(), "@context": record.credential["@context"], "type": record.credential["type"]},
            "RESERVED_BY_ISSUER",
        ),
        "an entry on the real list, under another name": (hidden_status, "RESERVED_BY_ISSUER"),
        "the issuer under another name": (
            {
                **{k: v for k, v in _vc_api_base().items() if k != "issuer"},
                "https://www.w3.org/2018/credentials#issuer": {"@id": "did:example:someone-else"},
            },
            "ISSUER_MISMATCH",
        ),
    }
    for label, (credential, code) in refused.items():
        answer = client.post("/credentials/issue", json={"credential": credential})
        assert answer.status_code == 400 and answer.json()["code"] == code, (label, answer.text)
    assert app_issuer.store.count() == 1  # nothing recorded but the certificate
    # and the revoked certificate stays REVOKED for a verifier holding the server's own lists
    public = TestClient(client.app)
    assert (
        public.post("/vc-certification/v1/certificate/verify", json=record.credential).json()["certificateStatus"]
        == "REVOKED"
    )


def test_what_the_vc_api_issues_is_recorded_and_can_be_revoked_or_suspended(
    client: TestClient, app_issuer: Issuer
) -> None:
    public = TestClient(client.app)
    signed = client.post("/credentials/issue", json={"credential": _vc_api_base()}).json()["verifiableCredential"]
    credential_id = signed["id"]
    assert credential_id.startswith("urn:uuid:") and list(signed)[:2] == ["@context", "id"]
    assert [e["statusPurpose"] for e in signed["credentialStatus"]] == ["revocation", "suspension"]
    record = app_issuer.store.get(credential_id)
    assert record is not None and record.entity_type == "VerifiableCredential" and record.credential == signed
    # its own id, if it has one; once only
    named = client.post(
        "/credentials/issue", json={"credential": {**_vc_api_base(), "id": "https://example.org/credentials/1"}}
    )
    assert named.status_code == 201 and app_issuer.store.get("https://example.org/credentials/1") is not None
    again = client.post(
        "/credentials/issue", json={"credential": {**_vc_api_base(), "id": "https://example.org/credentials/1"}}
    )
    assert again.status_code == 409 and again.json()["code"] == "DUPLICATE_CERTIFICATE_ID"
    # without status, on request: recorded, and nothing to change
    bare = client.post(
        "/credentials/issue", json={"credential": _vc_api_base(), "options": {"credentialStatus": None}}
    ).json()["verifiableCredential"]
    assert "credentialStatus" not in bare and app_issuer.store.get(bare["id"]) is not None

    def status(credential: str, purpose: str, value: bool) -> Any:
        return client.post(
            "/credentials/status",
            json={
                "credentialId": credential,
                "credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": purpose},
                "status": value,
            },
        )

    def verdict() -> str:
        answer = public.post("/credentials/verify", json={"verifiableCredential": signed})
        return "VALID" if answer.status_code == 200 else answer.json()["code"]

    assert verdict() == "VALID"
    assert status(credential_id, "suspension", True).json()["state"] == "SUSPENDED" and verdict() == "SUSPENDED"
    assert status(credential_id, "suspension", False).json()["state"] == "VALID" and verdict() == "VALID"
    assert status(credential_id, "revocation", True).json()["state"] == "REVOKED" and verdict() == "REVOKED"
    assert status(credential_id, "revocation", False).status_code == 409  # a revocation is final
    assert status(bare["id"], "revocation", True).status_code == 409  # no revocation entry
    # another status service's entries, which the caller brought: not this issuer's to set
    foreign_entry = {
        "id": "https://status.example.org/3#7",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "7",
        "statusListCredential": "https://status.example.org/3",
    }
    foreign = client.post(
        "/credentials/issue", json={"credential": {**_vc_api_base(), "credentialStatus": foreign_entry}}
    ).json()["verifiableCredential"]
    assert foreign["credentialStatus"] == foreign_entry
    assert status(foreign["id"], "revocation", True).status_code == 409
    blank = client.post("/credentials/issue", json={"credential": {**_vc_api_base(), "id": "_:b0"}})
    assert blank.status_code == 400 and blank.json()["field"] == "id"
    assert status("urn:uuid:00000000-0000-4000-8000-000000000000", "revocation", True).status_code == 404
    assert status(credential_id, "message", True).status_code == 400
    assert (
        public.post("/credentials/status", json={"credentialId": credential_id}).status_code == 401
    )  # needs the revoke permission


def test_a_server_verifies_what_it_certified_of_its_own_custom_type(tmp_path: Path) -> None:
    # issue 18, blocker 1: `vccore serve --templates DIR` certified a credential of a type from
    # DIR, then both verify routes answered INVALID (its context was not pinned for the verifier).
    from conftest import custom_type_folder

    from vccore import load_entity_types

    types = load_entity_types(custom_type_folder(tmp_path))
    issuer = Issuer(signer=KEY, store=open_store(tmp_path / "vccore.db", status_url=BASE), entity_types=types)
    client = TestClient(create_app(issuer, authorizer=StaticTokenAuthorizer(TOKEN)), headers=bearer(TOKEN))
    example = types["Trainee"].example
    assert example is not None
    answer = client.post(f"{CERTIFY}/Trainee", json={**example, "validTill": "2099-01-01T00:00:00Z"})
    assert answer.status_code == 200, answer.text
    certificate_id = answer.json()["certificateId"]
    fetched = client.get(f"/vc-certification/v1/certificate/Trainee/{certificate_id}")
    assert fetched.status_code == 200, fetched.text
    credential = fetched.json()
    divoc = client.post("/vc-certification/v1/certificate/verify", json=credential)
    assert divoc.status_code == 200 and divoc.json()["certificateStatus"] == "VALID", divoc.text
    vc_api = client.post("/credentials/verify", json={"verifiableCredential": credential})
    assert vc_api.status_code == 200 and vc_api.json()["verified"] is True, vc_api.text


def test_the_server_certifies_a_type_with_its_own_version_and_suite(client: TestClient) -> None:
    # issue 18, blocker 2: a VaccinationCertificate (VC 1.1, eddsa-jcs-2022 only) was refused (400)
    example = bundled_entity_types()["VaccinationCertificate"].example
    assert example is not None
    answer = client.post(f"{CERTIFY}/VaccinationCertificate", json=example)
    assert answer.status_code == 200, answer.text
    certificate_id = answer.json()["certificateId"]
    credential = client.get(f"/vc-certification/v1/certificate/VaccinationCertificate/{certificate_id}").json()
    assert credential["proof"]["cryptosuite"] == "eddsa-jcs-2022"
