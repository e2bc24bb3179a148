"""Signing Ed25519Signature2018 and RsaSignature2018 as Sunbird RC's certificate-signer (v0.0.13)
and DIVOC's certificate-signer-library (2.0.5) do, with jsonld-signatures 6 and vc-js 0.6.4, from
the keys in their formats: base58 Ed25519, PEM RSA.

The keys are the ones Sunbird RC ships: ``vectors/sunbird/signer-config.json`` is
``services/certificate-signer/config.json`` of Sunbird-RC/sunbird-rc-core at tag v0.0.13 (see
``vectors/sunbird/SOURCE.md``). Ed25519 signatures are deterministic, so vccore's credential must
be the JS one byte for byte; RSA-PSS is randomized, so RSA is checked by verifying across.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import load_json
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from jsinterop import JsInterop, requires_js, running_harness

from vccore import Verifier
from vccore.errors import KeyFormatError, SigningError
from vccore.keys import Ed25519Key, RsaKey
from vccore.proofs import sign

CONFIG = load_json("sunbird/signer-config.json")["issuers"]
ED_ISSUER = CONFIG["did:authorizedIssuer:23423#21"]
RSA_ISSUER = CONFIG["default"]
ED_KEY = Ed25519Key.from_base58(ED_ISSUER["publicKey"], ED_ISSUER["privateKey"], id=ED_ISSUER["verificationMethod"])
RSA_KEY = RsaKey.from_pem(RSA_ISSUER["privateKey"], id="did:india", public_key_pem=RSA_ISSUER["publicKey"])
CONTROLLER = "https://divoc.dev/"
NOW = datetime(2025, 6, 1, tzinfo=UTC)
LEGACY = ["Ed25519Signature2018", "RsaSignature2018"]

needs_js = requires_js()


def ed_method(key_id: str) -> dict[str, Any]:
    return {
        "id": key_id,
        "type": "Ed25519VerificationKey2018",
        "controller": CONTROLLER,
        "publicKeyBase58": ED_ISSUER["publicKey"],
    }


RSA_METHOD = {
    "id": "did:india",
    "type": "RsaVerificationKey2018",
    "controller": CONTROLLER,
    "publicKeyPem": RSA_ISSUER["publicKey"],
}


def divoc_fixture() -> dict[str, Any]:
    document: dict[str, Any] = load_json("divoc/divoc2_vaccination_signed_Ed25519Signature2018_testfixture.json")
    return document


def unsigned(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "proof"}


def divoc_with_status() -> dict[str, Any]:
    """A DIVOC certificate with an issuer object, an id, an expiry and a status entry."""
    document = unsigned(divoc_fixture())
    document["@context"] = [*document["@context"], "https://w3id.org/vc/status-list/2021/v1"]
    return {
        "@context": document["@context"],
        "id": "urn:uuid:0f3b7c8e-5d2a-4b51-9d1e-2f6a7c8b9d10",
        "type": document["type"],
        "credentialSubject": document["credentialSubject"],
        "issuer": {"id": CONTROLLER},
        "issuanceDate": "2024-02-03T04:05:06.789Z",
        "expirationDate": "2029-02-03T04:05:06Z",
        "credentialStatus": {
            "id": "https://divoc.dev/status/1#94567",
            "type": "StatusList2021Entry",
            "statusPurpose": "revocation",
            "statusListIndex": "94567",
            "statusListCredential": "https://divoc.dev/status/1",
        },
        "evidence": document["evidence"],
        "nonTransferable": "true",
    }


def cowin_v2() -> dict[str, Any]:
    """A CoWIN certificate under vaccination context v2 (scoped, protected terms)."""
    document = unsigned(divoc_fixture())
    evidence = dict(document["evidence"][0], certificateId="123456789", icd11Code="XM68M6", prophylaxis="COVID-19")
    evidence.update(dose=1, totalDoses=2)
    return dict(
        document,
        **{"@context": ["https://www.w3.org/2018/credentials/v1", "https://cowin.gov.in/credentials/vaccination/v2"]},
        evidence=[evidence],
        issuer=CONTROLLER,
    )


def examples_v1() -> dict[str, Any]:
    vector = load_json("ld-suites-digitalbazaar/ed25519-signature-2018-vc11.json")
    document: dict[str, Any] = vector["unsignedCredential"]
    return document


DOCUMENTS = {
    "divoc-fixture": lambda: unsigned(divoc_fixture()),
    "divoc-status-evidence": divoc_with_status,
    "cowin-v2": cowin_v2,
    "examples-v1": examples_v1,
    "unicode-name": lambda: dict(
        unsigned(divoc_fixture()),
        credentialSubject=dict(divoc_fixture()["credentialSubject"], name='भया मित्र "Bhaya" \\ Mitra\nनई'),
    ),
    # rdf-canonize 1.x writes these raw, RDFC-1.0 escapes them: the 2018 suites hash them raw
    "control-characters": lambda: dict(
        unsigned(divoc_fixture()),
        credentialSubject=dict(divoc_fixture()["credentialSubject"], name="Bhaya\tMitra\b\f\x00\x1f\x7f \\t\r\n"),
    ),
}


# --- without JS --------------------------------------------------------------------------------


def test_the_divoc_fixture_is_signed_again_byte_for_byte() -> None:
    """DIVOC's signed test certificate (jsonld-signatures 6, this very key) comes out the same."""
    fixture = divoc_fixture()
    key = Ed25519Key.from_base58(ED_ISSUER["publicKey"], ED_ISSUER["privateKey"], id="did:india")
    signed = sign(unsigned(fixture), key, suite="Ed25519Signature2018", created=fixture["proof"]["created"])
    assert json.dumps(signed, ensure_ascii=False) == json.dumps(fixture, ensure_ascii=False)


def test_the_2018_suites_write_control_characters_raw_as_rdf_canonize_1_did() -> None:
    """A tab is raw in the canonical N-Quads the 2018 suites hash (RDFC-1.0 writes \\t); an escaped
    backslash followed by t stays escaped."""
    from vccore import bundled_contexts
    from vccore.canon import canonicalize
    from vccore.proofs import create_verify_data
    from vccore.suites import get_suite

    document = DOCUMENTS["control-characters"]()
    data = create_verify_data(get_suite("Ed25519Signature2018"), document, {"type": "Ed25519Signature2018"})
    assert '"Bhaya\tMitra\b\f\x00\x1f\x7f \\\\t\\r\\n"' in data.canonical_document
    rdfc = canonicalize(document, contexts=bundled_contexts())
    assert '"Bhaya\\tMitra\\b\\f\\u0000\\u001F\\u007F \\\\t\\r\\n"' in rdfc
    assert data.canonical_document.count("\n") == rdfc.count("\n")  # the same quads, written two ways


def test_created_is_whole_utc_seconds_and_the_proof_has_no_context() -> None:
    document = unsigned(divoc_fixture())
    for created in ("2024-01-01T05:30:00.999+05:30", datetime(2024, 1, 1, 0, 0, 0, 999999, tzinfo=UTC)):
        signed = sign(document, ED_KEY, suite="Ed25519Signature2018", created=created)
        assert signed["proof"]["created"] == "2024-01-01T00:00:00Z"
        assert list(signed["proof"]) == ["type", "created", "verificationMethod", "proofPurpose", "jws"]
        assert signed["@context"] == document["@context"]
    rsa_signed = sign(document, RSA_KEY, suite="RsaSignature2018", created="2024-01-01T00:00:00.5Z")
    assert rsa_signed["proof"]["created"] == "2024-01-01T00:00:00Z"
    assert rsa_signed["proof"]["jws"].startswith("eyJhbGciOiJQUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19..")


def test_both_suites_verify_in_vccore_and_a_change_fails() -> None:
    check = Verifier.create(suites=LEGACY, verification_methods=[ed_method(ED_KEY.id), RSA_METHOD])
    for key, suite in ((ED_KEY, "Ed25519Signature2018"), (RSA_KEY, "RsaSignature2018")):
        signed = sign(divoc_with_status(), key, suite=suite)
        assert check.verify(signed, now=NOW).verified, suite
        changed = copy.deepcopy(signed)
        changed["credentialStatus"]["statusListIndex"] = "94568"
        assert not check.verify(changed, now=NOW).verified, suite


def test_the_signer_must_fit_the_suite() -> None:
    with pytest.raises(SigningError):
        sign(unsigned(divoc_fixture()), ED_KEY, suite="RsaSignature2018")
    with pytest.raises(SigningError):
        sign(unsigned(divoc_fixture()), RSA_KEY, suite="Ed25519Signature2018")


def test_sunbird_keys_load_and_write_back() -> None:
    assert ED_KEY.public_key_base58 == ED_ISSUER["publicKey"]
    assert ED_KEY.private_key_base58 == ED_ISSUER["privateKey"]
    assert (ED_KEY.id, ED_KEY.controller) == ("did:authorizedIssuer:23423#21", "did:authorizedIssuer:23423")
    public_only = Ed25519Key.from_base58(ED_ISSUER["publicKey"], id="did:india")
    assert public_only.public_bytes == ED_KEY.public_bytes and not public_only.has_secret
    # Sunbird's PEM is one long base64 line; vccore writes 64-character lines of the same key
    written = serialization.load_pem_public_key(RSA_KEY.public_key_pem.encode())
    assert RSA_KEY.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert written.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == (
        serialization.load_pem_public_key(RSA_ISSUER["publicKey"].encode()).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    assert RSA_KEY.public_key.key.public_numbers() == RSA_KEY.key.public_key().public_numbers()
    pkcs8 = RSA_KEY.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert pkcs8.startswith(b"-----BEGIN PRIVATE KEY-----")
    again = RsaKey.from_pem(pkcs8.decode(), id="did:india", public_key_pem=RSA_ISSUER["publicKey"])
    data = b"signed by the PKCS#8 form"
    assert RSA_KEY.public_key.verify(again.sign(data), data)


def test_a_base58_secret_that_is_not_seed_and_public_is_refused() -> None:
    secret = ED_KEY._seed() + ED_KEY.public_bytes
    other = Ed25519Key.generate()
    from vccore import _multibase

    cases = {
        "privateKeyBase58": [
            _multibase.b58encode(ED_KEY._seed() + other.public_bytes),  # second half not the seed's
            _multibase.b58encode(ED_KEY._seed()),  # 32 bytes: not the format
            ED_ISSUER["privateKey"][:-1] + "0",  # not base58
        ],
    }
    for bad in cases["privateKeyBase58"]:
        with pytest.raises(KeyFormatError) as caught:
            Ed25519Key.from_base58(None, bad, id="did:india")
        assert caught.value.details["field"] == "privateKeyBase58", bad
    with pytest.raises(KeyFormatError) as caught:
        Ed25519Key.from_base58(other.public_key_base58, _multibase.b58encode(secret), id="did:india")
    assert caught.value.details["field"] == "publicKeyBase58"
    with pytest.raises(KeyFormatError):
        Ed25519Key.from_base58(id="did:india")


def test_an_rsa_pem_that_does_not_fit_is_refused() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_public = other.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(KeyFormatError) as caught:
        RsaKey.from_pem(RSA_ISSUER["privateKey"], id="did:india", public_key_pem=other_public)
    assert caught.value.details["field"] == "publicKeyPem"
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    ed_pem = ED_KEY.to_pem(include_secret=True)
    for bad in (weak, ed_pem, RSA_ISSUER["publicKey"], "not a PEM"):
        with pytest.raises(KeyFormatError) as caught:
            RsaKey.from_pem(bad, id="did:india")
        assert caught.value.details["field"] == "privateKeyPem"


# --- against jsonld-signatures 6 / vc-js 0.6.4 --------------------------------------------------


@pytest.fixture(scope="module")
def js() -> Iterator[JsInterop]:
    yield from running_harness()


def js_signed(js: JsInterop, issuer: dict[str, Any], document: dict[str, Any], created: str, via: str) -> Any:
    answer = js.call(
        {"op": "signSunbird2018", "issuer": issuer, "credential": document, "created": created, "via": via}
    )
    assert "error" not in answer, answer
    return answer["signed"]


def divoc_config(key_type: str, key_id: str) -> dict[str, Any]:
    config = {"keyType": key_type, "CERTIFICATE_DID": key_id, "CERTIFICATE_PUBKEY_ID": key_id}
    config["CERTIFICATE_CONTROLLER_ID"] = CONTROLLER
    if key_type == "RSA":
        config["publicKeyPem"] = RSA_ISSUER["publicKey"]
    else:
        config["publicKeyBase58"] = ED_ISSUER["publicKey"]
    return config


def js_verifies(js: JsInterop, credential: dict[str, Any], method: dict[str, Any]) -> tuple[bool | str, bool]:
    """(certificate-signer-library's verifyJSON, or the error it threw; vc-js 0.6.4's
    verifyCredential) on ``credential``."""
    key_type = "RSA" if "publicKeyPem" in method else "ED25519"
    config = divoc_config(key_type, method["id"])
    library = js.call({"op": "verifyDivocLibrary", "credential": credential, "config": config})
    vcjs = js.call({"op": "verifyVcjs2018", "credential": credential, "key": method, "skipStatus": True})
    assert "error" not in vcjs, vcjs
    answer: bool | str = library["error"] if "error" in library else library["verified"] is True
    return answer, vcjs["verified"] is True


# verifyJSON's Ed25519 path is vc-js 0.6.4's verifyCredential, which throws on credentialStatus
# unless given a checkStatus, and verifyJSON gives it none
NO_CHECK_STATUS = 'TypeError: A "checkStatus" function must be given to verify credentials with "credentialStatus".'


@needs_js
@pytest.mark.parametrize("key_id", ["did:authorizedIssuer:23423#21", "did:india"])
@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_ed25519_credentials_are_jsonld_signatures_6s_byte_for_byte(js: JsInterop, name: str, key_id: str) -> None:
    """Each document signed by vccore and by Sunbird RC's signer (vc.issue, and jsigs.sign as
    DIVOC's library calls it for RSA) at the same `created`: the same JSON text."""
    document = DOCUMENTS[name]()
    created = "2024-05-06T07:08:09.123Z"
    key = Ed25519Key.from_base58(ED_ISSUER["publicKey"], ED_ISSUER["privateKey"], id=key_id)
    ours = json.dumps(sign(document, key, suite="Ed25519Signature2018", created=created), ensure_ascii=False)
    issuer = dict(ED_ISSUER, verificationMethod=key_id)
    for via in ("vc-js", "jsigs"):
        theirs = json.dumps(js_signed(js, issuer, document, created, via), ensure_ascii=False)
        assert ours == theirs, via


@needs_js
@settings(max_examples=60)
@given(
    name=st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
    batch=st.text("ABCDEFGHJKMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=12),
    dose=st.integers(min_value=1, max_value=9),
    created=st.datetimes(datetime(2000, 1, 1), datetime(2099, 1, 1), timezones=st.just(UTC)),
)
def test_hypothesis_ed25519_jws_equals_jsonld_signatures_6(
    js: JsInterop, name: str, batch: str, dose: int, created: datetime
) -> None:
    document = cowin_v2()
    document["credentialSubject"]["name"] = name
    document["evidence"][0].update(batch=batch, dose=dose)
    stamp = created.isoformat().replace("+00:00", "Z")
    ours = sign(document, ED_KEY, suite="Ed25519Signature2018", created=stamp)
    theirs = js_signed(js, ED_ISSUER, document, stamp, "vc-js")
    assert ours == theirs
    assert json.dumps(ours) == json.dumps(theirs)


@needs_js
@pytest.mark.parametrize("name", ["divoc-fixture", "cowin-v2", "divoc-status-evidence"])
def test_vccore_credentials_verify_in_divocs_library_and_vc_js(js: JsInterop, name: str) -> None:
    for key, method in ((RSA_KEY, RSA_METHOD), (ED_KEY, ed_method(ED_KEY.id))):
        suite = "RsaSignature2018" if isinstance(key, RsaKey) else "Ed25519Signature2018"
        signed = sign(DOCUMENTS[name](), key, suite=suite)
        refused = suite == "Ed25519Signature2018" and "credentialStatus" in signed
        assert js_verifies(js, signed, method) == (NO_CHECK_STATUS if refused else True, True), suite
        tampered = copy.deepcopy(signed)
        tampered["evidence"][0]["batch"] += "x"
        assert js_verifies(js, tampered, method) == (NO_CHECK_STATUS if refused else False, False), suite


@needs_js
@pytest.mark.parametrize("via", ["vc-js", "jsigs"])
def test_sunbird_credentials_verify_in_vccore(js: JsInterop, via: str) -> None:
    check = Verifier.create(suites=LEGACY, verification_methods=[ed_method(ED_KEY.id), RSA_METHOD])
    for issuer in (ED_ISSUER, RSA_ISSUER):
        for document in (divoc_with_status(), cowin_v2()):
            signed = js_signed(js, issuer, document, "2024-05-06T07:08:09Z", via)
            assert signed["proof"]["verificationMethod"] == issuer["verificationMethod"]
            result = check.verify(signed, now=NOW)
            assert result.verified, result.to_dict()
            tampered = copy.deepcopy(signed)
            tampered["credentialSubject"]["name"] = "Someone Else"
            assert not check.verify(tampered, now=NOW).verified
            moved = copy.deepcopy(signed)
            moved["proof"]["created"] = "2024-05-06T07:08:10Z"
            assert not check.verify(moved, now=NOW).verified
