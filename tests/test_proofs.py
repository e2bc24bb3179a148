"""Signing, step by step against the W3C vc-di-eddsa vectors and Digital Bazaar's VC 1.1 vectors."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from conftest import load_json, load_text

from vccore import (
    ED25519_SIGNATURE_2020,
    EDDSA_JCS_2022,
    EDDSA_RDFC_2022,
    ContextError,
    DocumentError,
    Ed25519Key,
    SafeModeError,
    SigningError,
    Suite,
    UnsupportedSuiteError,
    _multibase,
    create_verify_data,
    sign,
    verify,
)
from vccore.proofs import proof_configuration, verify_signature

TV = "vc-di-eddsa/TestVectors"
KEY_PAIR = load_json(f"{TV}/keyPair.json")
KEY = Ed25519Key.from_multibase(KEY_PAIR["publicKeyMultibase"], KEY_PAIR["privateKeyMultibase"])

# (suite, folder, suffix, unsigned document)
STEP_VECTORS = [
    (EDDSA_RDFC_2022, "eddsa-rdfc-2022", "DataInt", "unsigned.json"),
    (EDDSA_RDFC_2022, "eddsa-rdfc-2022/employ", "DataInt", "employmentAuth.json"),
    (ED25519_SIGNATURE_2020, "Ed25519Signature2020", "EdSig", "unsigned.json"),
    (EDDSA_JCS_2022, "eddsa-jcs-2022", "JCS", "unsigned.json"),
]


@pytest.mark.parametrize(("suite", "folder", "suffix", "unsigned"), STEP_VECTORS, ids=[v[1] for v in STEP_VECTORS])
def test_vc_di_eddsa_step_by_step(suite: Suite, folder: str, suffix: str, unsigned: str) -> None:
    base = f"{TV}/{folder}"
    document = load_json(f"{TV}/{unsigned}")
    signed = load_json(f"{base}/signed{suffix}.json")
    expected_config = load_json(f"{base}/proofConfig{suffix}.json")

    # 1. proof configuration: the proof options in the (signed) document's @context
    options = {k: v for k, v in signed["proof"].items() if k != "proofValue"}
    unsecured = {k: v for k, v in signed.items() if k != "proof"}
    assert proof_configuration(suite, options, unsecured) == expected_config

    # 2-4. canonical forms and their hashes
    data = create_verify_data(suite, unsecured, options)
    assert data.canonical_document == load_text(f"{base}/canonDoc{suffix}.txt")
    assert data.canonical_proof_config == load_text(f"{base}/proofCanon{suffix}.txt")
    assert data.document_hash.hex() == load_text(f"{base}/docHash{suffix}.txt")
    assert data.proof_hash.hex() == load_text(f"{base}/proofHash{suffix}.txt")
    # what is signed: the proof configuration hash first, then the document hash
    assert data.data.hex() == load_text(f"{base}/combinedHash{suffix}.txt")

    # 5. signature and proofValue
    signature = KEY.sign(data.data)
    assert signature.hex() == load_text(f"{base}/sigHex{suffix}.txt")
    assert _multibase.encode(signature) == load_text(f"{base}/sigBTC58{suffix}.txt")

    # 6. the whole signed document, byte for byte, and the document before signing is left alone
    before = copy.deepcopy(document)
    ours = sign(document, KEY, suite=suite, created=options["created"])
    assert json.dumps(ours, indent=2) == json.dumps(signed, indent=2)
    assert document == before
    assert verify_signature(suite, unsecured, signed["proof"], KEY)


def _chain_key(n: int) -> Ed25519Key:
    pair = load_json(f"{TV}/proof-set-chain/multiKeyPairs.json")[f"keyPair{n}"]
    return Ed25519Key.from_multibase(pair["publicKeyMultibase"], pair["privateKeyMultibase"])


def test_proof_sets_and_chains_reproduce() -> None:
    folder = f"{TV}/proof-set-chain"
    unsigned = load_json(f"{folder}/unsigned.json")

    def add(document: dict[str, Any], n: int, config_name: str) -> dict[str, Any]:
        config = load_json(f"{folder}/{config_name}.json")
        return sign(
            document,
            _chain_key(n),
            created=config["created"],
            proof_id=config.get("id"),
            previous_proof=config.get("previousProof"),
        )

    set1 = add(unsigned, 1, "proofSetConfig1")
    assert set1 == load_json(f"{folder}/signedProofSet1.json")
    set2 = add(set1, 2, "proofSetConfig2")
    assert set2 == load_json(f"{folder}/signedProofSet2.json")
    chain1 = add(set2, 3, "proofChainConfig1")
    assert chain1 == load_json(f"{folder}/signedProofChain1.json")
    chain2 = add(chain1, 4, "proofChainConfig2")
    assert chain2 == load_json(f"{folder}/signedProofChain2.json")
    for n, proof in enumerate(chain2["proof"], 1):
        signed_config = load_json(
            f"{folder}/{['proofSetConfigSigned1', 'proofSetConfigSigned2', 'proofChainConfigSigned1', 'proofChainConfigSigned2'][n - 1]}.json"
        )
        assert proof == signed_config

    # The documents a chained proof signs: the unsecured document plus the proofs it names.
    unsecured = {k: v for k, v in chain2.items() if k != "proof"}
    for n, temp in ((3, "proofChainTempDoc1"), (4, "proofChainTempDoc2")):
        proof = chain2["proof"][n - 1]
        previous = proof["previousProof"]
        names = [previous] if isinstance(previous, str) else previous
        signed_document = dict(unsecured, proof=[p for p in chain2["proof"] if p.get("id") in names])
        assert signed_document == load_json(f"{folder}/{temp}.json")
        assert verify_signature(EDDSA_RDFC_2022, signed_document, proof, _chain_key(n))

    # Every proof verifies; the only problem is that the W3C vectors' issuer controls none of the keys.
    result = verify(chain2)
    assert [p.verified for p in result.proofs] == [True] * 4
    assert result.codes == ("ISSUER_MISMATCH",) and not result.verified


def test_previous_proof_must_exist() -> None:
    signed = sign(load_json(f"{TV}/unsigned.json"), KEY, proof_id="urn:uuid:a")
    with pytest.raises(DocumentError) as caught:
        sign(signed, KEY, previous_proof="urn:uuid:missing")
    assert caught.value.details["field"] == "previousProof"


@pytest.mark.parametrize("name", ["eddsa-rdfc-2022-vc11", "ed25519-signature-2020-vc11"])
def test_digitalbazaar_vc11_vectors(name: str) -> None:
    vector = load_json(f"ld-suites-digitalbazaar/{name}.json")
    pair = vector["keyPair"]
    key = Ed25519Key.from_multibase(
        pair["publicKeyMultibase"],
        pair.get("secretKeyMultibase") or pair["privateKeyMultibase"],
        id=pair["id"],
        controller=pair["controller"],
    )
    options = vector["signOptions"]
    suite = options.get("cryptosuite") or options["type"]
    signed = sign(vector["unsignedCredential"], key, suite=suite, created=options["created"])
    assert signed["proof"]["proofValue"] == vector["expected"]["proof.proofValue"]
    assert signed["proof"]["verificationMethod"] == options["verificationMethod"]
    assert "@context" not in signed["proof"]
    if "canonicalDocument" in vector["expected"]:
        data = create_verify_data(EDDSA_RDFC_2022, {k: v for k, v in signed.items() if k != "proof"}, signed["proof"])
        assert data.canonical_document == vector["expected"]["canonicalDocument"]
    # The key is not a did:key: the verifier is given its controller document.
    result = verify(signed, verification_methods=[vector["controllerDocument"]])
    assert result.verified, result.problems

    for case in vector["negativeCases"]:
        bad = copy.deepcopy(vector["unsignedCredential"])
        if case["name"] == "undefined term":
            bad["undefinedTerm"] = "foo"
        else:
            bad["type"].append("UndefinedType")
        with pytest.raises(SafeModeError):
            sign(bad, key, suite=suite, created=options["created"])


def test_suite_context_is_added_when_missing() -> None:
    vc11 = load_json("ld-suites-digitalbazaar/eddsa-rdfc-2022-vc11.json")["unsignedCredential"]
    vc11["@context"] = vc11["@context"][:2]  # drop data-integrity/v2
    signed = sign(vc11, KEY, created="2024-01-01T00:00:00Z")
    assert signed["@context"][-1] == "https://w3id.org/security/data-integrity/v2"
    v2 = load_json(f"{TV}/unsigned.json")
    assert sign(v2, KEY)["@context"] == v2["@context"]  # credentials/v2 defines DataIntegrityProof


def test_sign_takes_what_a_caller_needs_and_leaves_the_document_alone() -> None:
    """vccore's own hooks (a transformation worked out another way, skipping the copy) are on
    proofs.sign_with_transform, not on the public sign(); sign() never shares an object with its input."""
    import inspect

    assert list(inspect.signature(sign).parameters) == [
        "document",
        "signer",
        "suite",
        "created",
        "proof_purpose",
        "proof_id",
        "previous_proof",
        "expires",
        "domain",
        "challenge",
        "contexts",
    ]
    document = load_json(f"{TV}/unsigned.json")
    before = copy.deepcopy(document)
    signed = sign(document, KEY, created="2024-01-01T00:00:00Z")
    signed["credentialSubject"]["touched"] = True
    assert document == before


def test_signing_refusals() -> None:
    document = load_json(f"{TV}/unsigned.json")
    with pytest.raises(UnsupportedSuiteError) as unsupported:
        sign(document, KEY, suite="bbs-2023")
    assert unsupported.value.details["suite"] == "bbs-2023"
    with pytest.raises(DocumentError) as no_context:
        sign({"type": "VerifiableCredential"}, KEY)
    assert no_context.value.details["field"] == "@context"
    with pytest.raises(DocumentError):
        sign(document, KEY, created="yesterday")
    with pytest.raises(SigningError):
        sign(document, _OtherAlgorithm())


class _OtherAlgorithm:
    id = "did:example:hsm#key-1"
    algorithm = "ES256"

    def sign(self, data: bytes) -> bytes:
        raise AssertionError("never called")


class _RemoteSigner:
    """Stands in for a KMS: holds no Ed25519Key, only a signing callable."""

    def __init__(self, key: Ed25519Key) -> None:
        self._key = key
        self.calls = 0

    @property
    def id(self) -> str:
        return self._key.id

    @property
    def algorithm(self) -> str:
        return "Ed25519"

    def sign(self, data: bytes) -> bytes:
        self.calls += 1
        return self._key.sign(data)


def test_any_signer_can_stand_in_for_a_key() -> None:
    document = dict(load_json(f"{TV}/unsigned.json"), issuer=KEY.controller)
    remote = _RemoteSigner(KEY)
    signed = sign(document, remote, created="2024-01-01T00:00:00Z")
    assert remote.calls == 1
    assert signed == sign(document, KEY, created="2024-01-01T00:00:00Z")
    assert verify(signed).verified


def test_ed25519_signature_2018_vector() -> None:
    from vccore import ED25519_SIGNATURE_2018

    vector = load_json("ld-suites-digitalbazaar/ed25519-signature-2018-vc11.json")
    pair = vector["keyPair"]
    secret = _multibase.b58decode(pair["privateKeyBase58"])
    key = Ed25519Key.from_seed(secret[:32], id=pair["id"], controller=pair["controller"])
    options = vector["signOptions"]
    unsigned = vector["unsignedCredential"]

    # The JWS is reproduced from vccore's verify data: header "." proof hash, document hash.
    data = create_verify_data(ED25519_SIGNATURE_2018, unsigned, options)
    header = _multibase.b64url_encode(b'{"alg":"EdDSA","b64":false,"crit":["b64"]}')
    jws = f"{header}..{_multibase.b64url_encode(key.sign(header.encode('ascii') + b'.' + data.data))}"
    assert jws == vector["expected"]["proof.jws"]

    signed = dict(unsigned, proof=dict(options, jws=jws))
    trusted = [vector["controllerDocument"]]
    assert verify(signed, suites=["Ed25519Signature2018"], verification_methods=trusted).verified
    # legacy suites are opt-in for verifiers; signing reproduces the vector
    assert verify(signed, verification_methods=trusted).codes == ("UNSUPPORTED_SUITE",)
    assert sign(unsigned, key, suite="Ed25519Signature2018", created=options["created"])["proof"] == signed["proof"]
    for bad_jws in (jws[:-2] + "AA", jws.replace("..", ".e30."), "x" + jws):
        bad = dict(unsigned, proof=dict(options, jws=bad_jws))
        assert not verify(bad, suites=["Ed25519Signature2018"], verification_methods=trusted).verified


def test_jcs_proof_context_must_be_the_documents() -> None:
    signed = load_json(f"{TV}/eddsa-jcs-2022/signedJCS.json")
    signed["issuer"] = KEY.controller
    resigned = sign({k: v for k, v in signed.items() if k != "proof"}, KEY, suite="eddsa-jcs-2022")
    assert verify(resigned).verified
    appended = copy.deepcopy(resigned)
    appended["@context"].append("https://w3id.org/security/data-integrity/v2")
    result = verify(appended)
    assert result.codes == ("PROOF_VERIFICATION_ERROR",) and result.problems[0].reason == "CONTEXT_MISMATCH"
    unknown = dict(resigned, **{"@context": [*resigned["@context"], "https://contexts.example/x"]})
    with pytest.raises(ContextError) as caught:
        sign({k: v for k, v in unknown.items() if k != "proof"}, KEY, suite="eddsa-jcs-2022")
    assert caught.value.code == "UNKNOWN_CONTEXT"


class _ShortSigner(_RemoteSigner):
    def sign(self, data: bytes) -> bytes:
        return super().sign(data)[:63]


def test_a_signer_must_return_an_ed25519_signature() -> None:
    with pytest.raises(SigningError):
        sign(load_json(f"{TV}/unsigned.json"), _ShortSigner(KEY))
