"""DIVOC's own certificates: the Ed25519Signature2018 fixture from DIVOC's signer tests, and
RsaSignature2018 (PS256) certificates made by an independent test signer (pyld's URDNA2015 and
`cryptography`), checked by Node's crypto over jsonld.js as well."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import load_json
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jsinterop import JsInterop, available
from pyld import jsonld

from vccore import Verifier, bundled_contexts
from vccore.errors import KeyFormatError

NOW = datetime(2022, 1, 1, tzinfo=UTC)
LEGACY = ["Ed25519Signature2018", "RsaSignature2018"]
# The DIVOC test signer's key (base58, from DIVOC's signer tests; see ../shared/divoc/INDEX.md).
DIVOC_KEY = {
    "id": "did:india",
    "type": "Ed25519VerificationKey2018",
    "controller": "https://divoc.dev/",
    "publicKeyBase58": "DaipNW4xaH2bh1XGNNdqjnSYyru3hLnUgTBSfSvmZ2hi",
}


def fixture() -> dict[str, Any]:
    document: dict[str, Any] = load_json("divoc/divoc2_vaccination_signed_Ed25519Signature2018_testfixture.json")
    return document


def verifier(*methods: dict[str, Any]) -> Verifier:
    return Verifier.create(suites=LEGACY, verification_methods=methods)


def test_the_divoc_certificate_verifies_with_divocs_key() -> None:
    result = verifier(DIVOC_KEY).verify(fixture(), now=NOW)
    assert result.verified, result.to_dict()
    assert [p.verification_method for p in result.proofs] == ["did:india"]


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))
    else:
        yield path


def test_every_single_field_change_fails() -> None:
    """Each value of the certificate changed in turn (proof fields included): never verified."""
    check = verifier(DIVOC_KEY)
    original = fixture()
    paths = [p for p in _leaves(original) if p[:2] != ("proof", "jws")]
    assert len(paths) == 46  # every value of the certificate but the signature
    for path in paths:
        changed = copy.deepcopy(original)
        node = changed
        for step in path[:-1]:
            node = node[step]
        value = node[path[-1]]
        node[path[-1]] = value + "x" if isinstance(value, str) and value else "changed"
        result = check.verify(changed, now=NOW)
        assert not result.verified, f"{'/'.join(map(str, path))} changed and the certificate still verifies"


def test_an_unknown_verification_method_is_named() -> None:
    result = verifier().verify(fixture(), now=NOW)
    assert not result.verified
    problem = next(p for p in result.problems if p.code == "UNKNOWN_VERIFICATION_METHOD")
    assert "did:india" in problem.detail


def test_legacy_suites_only_when_allowed() -> None:
    result = Verifier.create(verification_methods=[DIVOC_KEY]).verify(fixture(), now=NOW)
    assert not result.verified and "UNSUPPORTED_SUITE" in result.codes


def test_divocs_contexts_are_pinned_at_both_urls() -> None:
    loader = bundled_contexts()
    assert loader.read_bytes("https://divoc.dev/credentials/vaccination/v1") == loader.read_bytes(
        "https://cowin.gov.in/credentials/vaccination/v1"
    )
    assert b"https://cowin.gov.in/credentials/vaccination/v2" in loader.read_bytes(
        "https://cowin.gov.in/credentials/vaccination/v2"
    )


# --- RsaSignature2018 ------------------------------------------------------------------------------

RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PEM = (
    RSA.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
)
RSA_KEY = {
    "id": "did:india:rsa",
    "type": "RsaVerificationKey2018",
    "controller": "https://divoc.dev/",
    "publicKeyPem": RSA_PEM,
}


def _pyld_loader(url: str, options: Any = None) -> dict[str, Any]:
    return {"contextUrl": None, "documentUrl": url, "document": json.loads(bundled_contexts().read_bytes(url))}


def _canonical_hash(document: dict[str, Any]) -> bytes:
    nquads = jsonld.normalize(
        document, {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": _pyld_loader}
    )
    return hashlib.sha256(nquads.encode()).digest()


def rsa_signed(sign: Any) -> dict[str, Any]:
    """The DIVOC certificate signed again, RsaSignature2018 style, by ``sign(data) -> bytes``:
    header {"alg":"PS256","b64":false,"crit":["b64"]}, then "." and the two hashes."""
    document = {k: v for k, v in fixture().items() if k != "proof"}
    proof = {
        "type": "RsaSignature2018",
        "created": "2021-08-27T10:57:57Z",
        "verificationMethod": "did:india:rsa",
        "proofPurpose": "assertionMethod",
    }
    header = base64.urlsafe_b64encode(
        json.dumps({"alg": "PS256", "b64": False, "crit": ["b64"]}, separators=(",", ":")).encode()
    ).rstrip(b"=")
    data = (
        header
        + b"."
        + _canonical_hash({"@context": "https://w3id.org/security/v2", **proof})
        + _canonical_hash(document)
    )
    signature = base64.urlsafe_b64encode(sign(data)).rstrip(b"=").decode()
    return {**document, "proof": {**proof, "jws": f"{header.decode()}..{signature}"}}


def ps256(data: bytes, salt: int = 32) -> bytes:
    return RSA.sign(data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt), hashes.SHA256())


def test_an_rsa_signature_2018_certificate_verifies() -> None:
    result = verifier(RSA_KEY).verify(rsa_signed(ps256), now=NOW)
    assert result.verified, result.to_dict()
    # the same key as a JWK
    numbers = RSA.public_key().public_numbers()

    def b64(n: int) -> str:
        return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

    jwk_method = {
        **{k: v for k, v in RSA_KEY.items() if k != "publicKeyPem"},
        "publicKeyJwk": {"kty": "RSA", "n": b64(numbers.n), "e": b64(numbers.e)},
    }
    assert verifier(jwk_method).verify(rsa_signed(ps256), now=NOW).verified


@pytest.mark.parametrize(
    ("name", "sign"),
    [
        ("PKCS#1 v1.5", lambda data: RSA.sign(data, padding.PKCS1v15(), hashes.SHA256())),
        ("PSS with a 20-byte salt", lambda data: ps256(data, salt=20)),
        ("PSS with the longest salt", lambda data: ps256(data, salt=padding.PSS.MAX_LENGTH)),
        (
            "PSS over SHA-512",
            lambda data: RSA.sign(
                data, padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=32), hashes.SHA512()
            ),
        ),
    ],
)
def test_rsa_signatures_other_than_ps256_fail(name: str, sign: Any) -> None:
    result = verifier(RSA_KEY).verify(rsa_signed(sign), now=NOW)
    assert not result.verified and "PROOF_VERIFICATION_ERROR" in result.codes, name


def test_rsa_keys_and_proofs_that_do_not_fit_are_refused() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = (
        weak.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(KeyFormatError, match="1024 bits is too weak"):
        verifier({**RSA_KEY, "publicKeyPem": pem})
    # an Ed25519 key named by an RSA proof
    ed_method = {**DIVOC_KEY, "id": "did:india:rsa"}
    result = verifier(ed_method).verify(rsa_signed(ps256), now=NOW)
    assert not result.verified and "INVALID_VERIFICATION_METHOD" in result.codes
    assert "Ed25519 key; RsaSignature2018 signs with RSA" in " ".join(p.detail for p in result.problems)
    # a header that is not PS256
    tampered = rsa_signed(ps256)
    tampered["proof"]["jws"] = (
        "eyJhbGciOiJSUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19"
        + tampered["proof"]["jws"][tampered["proof"]["jws"].index(".") :]
    )
    result = verifier(RSA_KEY).verify(tampered, now=NOW)
    assert not result.verified and "MALFORMED_PROOF_ERROR" in result.codes


_MISSING = available()


@pytest.mark.skipif(
    _MISSING is not None and not os.environ.get("VCCORE_REQUIRE_INTEROP"),
    reason=f"JS interop stack unavailable: {_MISSING}",
)
def test_node_agrees_with_the_test_signer_and_with_vccore() -> None:
    """jsonld.js + Node's crypto, an implementation apart from both pyld and vccore, accepts the
    PS256 certificate and the DIVOC fixture, and refuses the PKCS#1 v1.5 one, as vccore does."""
    fixture_pem = (
        serialization.load_der_public_key(
            bytes.fromhex("302a300506032b6570032100") + _b58decode(DIVOC_KEY["publicKeyBase58"])
        )
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with JsInterop() as js:
        assert (
            js.call({"op": "verifyJws2018", "credential": rsa_signed(ps256), "publicKeyPem": RSA_PEM})["verified"]
            is True
        )
        pkcs1 = rsa_signed(lambda data: RSA.sign(data, padding.PKCS1v15(), hashes.SHA256()))
        assert js.call({"op": "verifyJws2018", "credential": pkcs1, "publicKeyPem": RSA_PEM})["verified"] is False
        assert (
            js.call({"op": "verifyJws2018", "credential": fixture(), "publicKeyPem": fixture_pem})["verified"] is True
        )


@pytest.mark.skipif(
    _MISSING is not None and not os.environ.get("VCCORE_REQUIRE_INTEROP"),
    reason=f"JS interop stack unavailable: {_MISSING}",
)
def test_digital_bazaars_rsa_signature_2018_verifies() -> None:
    """Signed by Digital Bazaar's jsonld-signatures 6 (RsaSignature2018, PS256): verified; with
    any value changed: not."""
    document = {k: v for k, v in fixture().items() if k != "proof"}
    with JsInterop() as js:
        answer = js.call(
            {
                "op": "signRsa2018Legacy",
                "credential": document,
                "verificationMethod": "did:india:rsa",
                "controller": "https://divoc.dev/",
                "created": "2021-08-27T10:57:57Z",
            }
        )
    assert "error" not in answer, answer
    signed = answer["signed"]
    assert signed["proof"]["type"] == "RsaSignature2018" and signed["proof"]["jws"].startswith("eyJhbGciOiJQUzI1NiI")
    check = verifier({**RSA_KEY, "publicKeyPem": answer["publicKeyPem"]})
    assert check.verify(signed, now=NOW).verified
    for path in (("credentialSubject", "name"), ("evidence", 0, "batch"), ("proof", "created")):
        changed = copy.deepcopy(signed)
        node = changed
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] += "x"
        assert not check.verify(changed, now=NOW).verified, path


def _b58decode(text: str) -> bytes:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    number = 0
    for char in text:
        number = number * 58 + alphabet.index(char)
    return number.to_bytes(32, "big")
