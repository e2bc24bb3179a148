"""DIVOC's own clients against `vccore serve` (issue 19): what they send, and the fields they read.

DIVOC's code is the contract (egovernments/DIVOC `main`): the verification app
(verification-app/src/components/VerifyCertificate and VcCertificateStatus: scan, unzip
certificate.json if the QR holds a ZIP, else take the text, JSON.parse, POST it to
/vc-certification/v1/certificate/verify, switch on ``status.certificateStatus``, read
``status.startDate`` and ``status.endDate``), vc-certification-service's
certificate.controller.js (verifyCertificate, revokeStatus, revokeCertificate,
deleteRevokeCertificate: the answers and status codes) and validation.service.js (zone-less
date-times taken). Each test replays that exchange against the real app, as the app does it.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("zxingcpp")

from starlette.testclient import TestClient

from vccore import Ed25519Key, bundled_entity_types, open_store, qr
from vccore.http import create_app
from vccore.http.auth import StaticTokenAuthorizer
from vccore.issuer import Issuer

KEY = Ed25519Key.from_seed(bytes(range(32)))
BASE = "https://issuer.example/status/"
TOKEN = "static-token-for-tests-0123456789"
CERTIFY = "/vc-certification/v1/certify/HealthProfessional"
CERTIFICATE = "/vc-certification/v1/certificate/HealthProfessional"
VERIFY = "/vc-certification/v1/certificate/verify"
REVOKE = "/vc-certification/v1/certificate/revoke"


def payload(certificate_id: str, **changes: Any) -> dict[str, Any]:
    example = bundled_entity_types()["HealthProfessional"].example
    assert example is not None
    return {**example, "certificateId": certificate_id, "validTill": "2099-09-09T21:01:01.121Z", **changes}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    issuer = Issuer(signer=KEY, store=open_store(tmp_path / "vccore.db", status_url=BASE))
    app = create_app(issuer, authorizer=StaticTokenAuthorizer(TOKEN))
    yield TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})
    issuer.store.close()


def scanned(client: TestClient, certificate_id: str, tmp_path: Path) -> str:
    """What DIVOC's verification app holds after scanning the certificate's QR code, fetched as a
    citizen's app fetches it (image/png), read by a real decoder: the text of certificate.json
    when the QR holds a ZIP (JSZip.loadAsync), else the QR's text.
    """
    png = client.get(f"{CERTIFICATE}/{certificate_id}", headers={"Accept": "image/png"})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png", png.text
    (tmp_path / "qr.png").write_bytes(png.content)
    text = qr.read_image(tmp_path / "qr.png")
    try:
        with zipfile.ZipFile(io.BytesIO(text.encode("latin-1"))) as archive:
            return archive.read("certificate.json").decode("utf-8")
    except zipfile.BadZipFile:
        return text


def app_verdict(client: TestClient, scanned_text: str) -> tuple[str, dict[str, Any], int]:
    """The app's verifyData: JSON.parse, POST, and the word it switches on (axios gives the body
    of a 406 as ``e.response``, and the app reads ``.status`` of that: here, the same body)."""
    answer = client.post(VERIFY, json=json.loads(scanned_text))
    body: dict[str, Any] = answer.json()
    status = body.get("status")
    word = status.get("certificateStatus") if isinstance(status, dict) else None
    return str(word), body, answer.status_code


def test_the_verification_apps_scan_verify_display_path(client: TestClient, tmp_path: Path) -> None:
    assert client.post(CERTIFY, json=payload("c-1")).status_code == 200
    text = scanned(client, "c-1", tmp_path)
    assert json.loads(text)["evidence"]["certificateId"] == "c-1"  # the QR held DIVOC's ZIP: the app reads it
    word, body, code = app_verdict(client, text)
    # the app read `status.certificateStatus`; vccore answered `status: "VALID"`, a string: every
    # certificate showed Invalid (issue 19, row 1)
    assert (code, word, body["message"], body["status"]["msg"]) == (
        200,
        "VALID",
        "Certificate verified",
        "certificate is Valid",
    )
    assert body["verified"] is True and body["problems"] == []  # vccore's own fields, beside DIVOC's

    until = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")
    suspended = client.post(REVOKE, json={"certificateId": "c-1", "entityName": "HealthProfessional", "endDate": until})
    assert suspended.status_code == 200 and suspended.json()["message"] == "Certificate Revoked"
    word, body, code = app_verdict(client, text)
    assert (code, word) == (200, "SUSPENDED")
    # the dates the app shows (row 3): when it was suspended, and until when
    assert body["status"]["startDate"].startswith(datetime.now(UTC).strftime("%Y-%m-%d"))
    assert body["status"]["endDate"] == f"{until}T00:00:00Z"

    assert client.delete(f"{REVOKE}/HealthProfessional/c-1").status_code == 200
    assert client.post(REVOKE, json={"certificateId": "c-1", "entityName": "HealthProfessional"}).status_code == 200
    word, body, code = app_verdict(client, text)
    assert (code, word, body["status"]["msg"]) == (200, "REVOKED", "Certificate is Permanently Revoked")
    assert body["status"]["startDate"] and body["status"]["endDate"] == ""


def test_verify_answers_alike_are_written_once_and_never_stand_for_another(client: TestClient) -> None:
    """An answer written before for an equal result is sent again, byte for byte as it was
    written; a forged or revoked credential verified after a valid one gets its own answer."""
    for number in ("m-1", "m-2"):
        assert client.post(CERTIFY, json=payload(number)).status_code == 200
    one, two = (client.get(f"{CERTIFICATE}/{n}").json() for n in ("m-1", "m-2"))
    forged = {**one, "credentialSubject": {**one["credentialSubject"], "name": "Mallory"}}
    answers = [client.post(VERIFY, json=c) for c in (one, two, forged, one, forged)]
    assert [a.status_code for a in answers] == [200, 200, 406, 200, 406]
    assert answers[0].content == answers[1].content == answers[3].content  # one issuer's valid credentials
    assert answers[2].content == answers[4].content and answers[2].json()["verified"] is False
    assert {a.headers["content-type"] for a in answers} == {"application/json"}
    assert all(a.headers["content-length"] == str(len(a.content)) for a in answers)
    assert client.post(REVOKE, json={"certificateId": "m-1", "entityName": "HealthProfessional"}).status_code == 200
    revoked = client.post(VERIFY, json=one)
    assert revoked.json()["status"]["certificateStatus"] == "REVOKED" and revoked.json()["status"]["startDate"]
    assert client.post(VERIFY, json=two).content == answers[1].content


def test_an_updated_certificates_old_one_reads_revoked_with_its_successor(client: TestClient, tmp_path: Path) -> None:
    assert client.post(CERTIFY, json=payload("u-1")).status_code == 200
    old = scanned(client, "u-1", tmp_path)
    new_id = client.put(CERTIFY, json=payload("u-1", name="Neha R.")).json()["certificateId"]
    word, body, code = app_verdict(client, old)
    # the app knows no SUPERSEDED: it showed Invalid (row 4); DIVOC revokes the old one on update
    assert (code, word, body["successor"], body["certificateStatus"]) == (200, "REVOKED", new_id, "REVOKED")
    assert new_id in body["status"]["msg"] and body["status"]["startDate"]
    assert app_verdict(client, scanned(client, new_id, tmp_path))[0] == "VALID"


def test_a_forged_certificate_is_406_and_invalid_in_every_qr_form_the_app_reads(
    client: TestClient, tmp_path: Path
) -> None:
    assert client.post(CERTIFY, json=payload("f-1")).status_code == 200
    credential = json.loads(scanned(client, "f-1", tmp_path))
    forged = {**credential, "credentialSubject": {**credential["credentialSubject"], "name": "Mallory"}}
    for form in (qr.QRFormat.DIVOC, "json"):
        text = qr.encode_text(forged, qr.QRFormat.DIVOC) if form == qr.QRFormat.DIVOC else json.dumps(forged)
        if form == qr.QRFormat.DIVOC:
            with zipfile.ZipFile(io.BytesIO(text.encode("latin-1"))) as archive:
                text = archive.read("certificate.json").decode("utf-8")
        word, body, code = app_verdict(client, text)
        # row 2: DIVOC answers 406 to a bad signature (vccore answered 200 with INVALID)
        assert (code, word, body["message"]) == (406, "INVALID", "verification failed"), body
        assert body["status"]["msg"] == "Failed to verify certificate" and body["verified"] is False
        assert any(p["code"] == "PROOF_VERIFICATION_ERROR" for p in body["problems"])


def test_express_routes_take_any_case_and_a_trailing_slash(client: TestClient) -> None:
    transaction_id = client.post(CERTIFY, json=payload("e-1")).json()["transactionId"]
    # row 6: /vc-management/V1/... (DIVOC's source systems) was a 404, a trailing slash a 307
    for path in 2 * (  # the second time from the paths matched before
        f"/vc-management/V1/transaction/{transaction_id}",
        f"/VC-MANAGEMENT/v1/Transaction/{transaction_id}/",
        f"/vc-management/v1/transaction/{transaction_id}/",
    ):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 200 and answer.json()["certificateId"] == "e-1", (path, answer.text)
    # the parameters keep their case: a certificate id is not a route's literal
    assert client.get("/vc-certification/V1/certificate/HealthProfessional/E-1").status_code == 404
    assert client.get("/Vc-Certification/v1/certificate/HealthProfessional/e-1/").status_code == 200


def test_express_paths_match_alike_once_their_memo_is_full() -> None:
    """The paths matched before are kept up to a bound, the oldest dropped first: past it, paths
    are matched anew, the same way (a client sending endless distinct paths grows nothing)."""
    import asyncio

    from vccore.http.app import _EXPRESS_KEPT, ExpressPaths

    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["path"])

    express = ExpressPaths(app, ["/vc-certification/v1/certificate/{entity}/{certificate}"])

    def through(path: str) -> str:
        asyncio.run(express({"type": "http", "path": path}, None, None))
        return seen[-1]

    for n in range(_EXPRESS_KEPT + 10):
        assert through(f"/VC-certification/v1/Certificate/T/c-{n}/") == f"/vc-certification/v1/certificate/T/c-{n}"
    assert len(express._matched) == _EXPRESS_KEPT
    assert through("/vc-certification/V1/certificate/T/c-1") == "/vc-certification/v1/certificate/T/c-1"  # dropped
    assert through("/VC-certification/v1/Certificate/T/c-1030/") == "/vc-certification/v1/certificate/T/c-1030"  # kept
    assert len(express._matched) == _EXPRESS_KEPT
    assert through("/vc-certification/v1/other") == "/vc-certification/v1/other"  # no route: as it is


def test_zone_less_date_times_are_taken_as_utc(client: TestClient) -> None:
    # row 7: DIVOC takes 2023-09-09T21:01:01.121 (iso-datestring-validator); vccore refused it (422)
    answer = client.post(
        CERTIFY, json=payload("z-1", validFrom="2023-09-09T21:01:01.121", issuanceDate="2023-09-09T21:01:01")
    )
    assert answer.status_code == 200, answer.text
    credential = client.get(f"{CERTIFICATE}/z-1").json()
    assert credential["validFrom"] == "2023-09-09T21:01:01.121Z"
    refused = client.post(CERTIFY, json=payload("z-2", validFrom="2023-09-09 21:01"))
    assert refused.status_code == 422 and refused.json()["problems"][0]["pointer"] == "/validFrom"


def test_revoke_and_unsuspend_answer_divocs_status_codes(client: TestClient) -> None:
    assert client.post(CERTIFY, json=payload("r-1")).status_code == 200
    # row 11: an unknown certificate is DIVOC's 400 (vccore answered 404), with DIVOC's `message`
    unknown = client.post(REVOKE, json={"certificateId": "nope", "entityName": "HealthProfessional"})
    assert unknown.status_code == 400 and "nope" in unknown.json()["message"]
    assert client.delete(f"{REVOKE}/HealthProfessional/nope").status_code == 400
    # lifting a suspension of a certificate that is not suspended: DIVOC's 400 (vccore: 409)
    assert client.delete(f"{REVOKE}/HealthProfessional/r-1").status_code == 400
    past = client.post(
        REVOKE, json={"certificateId": "r-1", "entityName": "HealthProfessional", "endDate": "2020-01-01"}
    )
    assert past.status_code == 400 and past.json()["field"] == "endDate"
    assert client.post(REVOKE, json={"certificateId": "r-1", "entityName": "HealthProfessional"}).status_code == 200
    again = client.post(REVOKE, json={"certificateId": "r-1", "entityName": "HealthProfessional"})
    assert again.status_code == 409 and again.json()["message"]


def test_where_vccore_does_not_copy_divoc_a_suspension_changes_or_ends_at_once(client: TestClient) -> None:
    """DIVOC refuses (409, "unsuspend first") to suspend a suspended certificate again or to revoke
    it: the certificate would verify VALID between the two requests. vccore does either at once."""
    assert client.post(CERTIFY, json=payload("s-1")).status_code == 200
    first, later = ((datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%d") for days in (10, 20))
    for end in (first, later):
        answer = client.post(REVOKE, json={"certificateId": "s-1", "entityName": "HealthProfessional", "endDate": end})
        assert answer.status_code == 200 and answer.json()["suspendedUntil"] == f"{end}T00:00:00Z", answer.text
    revoked = client.post(REVOKE, json={"certificateId": "s-1", "entityName": "HealthProfessional"})
    assert revoked.status_code == 200 and revoked.json()["state"] == "REVOKED"


def test_an_unknown_entity_type_is_named_as_json_not_as_python_writes_it(client: TestClient) -> None:
    # schemathesis found `unknown entity type '\x9c\U0004903a...'`: a Python repr in a message
    answer = client.post(REVOKE, json={"certificateId": "x", "entityName": "a\x01\u00e9b"})
    assert answer.status_code == 404, answer.text
    assert '"a\\u0001\\u00e9b"' in answer.json()["detail"] and "'" not in answer.json()["detail"].split(";")[0]


def test_a_credential_body_laid_out_as_one_verified_before_is_read_unparsed(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body that is a credential as vccore writes it (compact, the layout of one the verifier
    has verified) goes to the verifier as text: no JSON parse of the body, nor in the verifier.
    The answers are those of the same credentials sent as parsed JSON, a revoked one's dates
    included (its record is found from the text)."""
    from vccore import _json

    for number in ("t-1", "t-2", "t-3"):
        assert client.post(CERTIFY, json=payload(number)).status_code == 200
    texts = [client.get(f"{CERTIFICATE}/{n}").content for n in ("t-1", "t-2", "t-3")]
    assert client.post(VERIFY, content=texts[0]).json()["verified"]  # met: its layout is learned
    assert client.post(REVOKE, json={"certificateId": "t-2", "entityName": "HealthProfessional"}).status_code == 200
    expected = [client.post(VERIFY, json=json.loads(text)).content for text in texts]
    real = _json.loads

    def not_parsed(text: Any) -> Any:
        raise AssertionError("parsed")

    monkeypatch.setattr(_json, "loads", not_parsed)
    assert client.post(VERIFY, content=texts[0]).content == expected[0]
    assert client.post(VERIFY, content=texts[2]).content == expected[2]
    monkeypatch.setattr(_json, "loads", real)  # a revoked one: its record is looked up from the JSON
    revoked = client.post(VERIFY, content=texts[1])
    assert revoked.content == expected[1] and revoked.json()["status"]["certificateStatus"] == "REVOKED"
    bad = client.post(VERIFY, content=texts[0][:-1])  # not JSON: the 400 it always was
    assert bad.status_code == 400 and "the body is not JSON" in bad.text
