"""verify(): one test per problem code, trust, suites, and the mutation property."""

from __future__ import annotations

import copy
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vccore import (
    EDDSA_RDFC_2022,
    Ed25519Key,
    KeyFormatError,
    Suite,
    UnsupportedSuiteError,
    Verifier,
    bundled_contexts,
    sign,
    verify,
)

KEY = Ed25519Key.from_seed(bytes(range(32)))
OTHER = Ed25519Key.from_seed(bytes(range(1, 33)))
NOW = datetime(2026, 6, 1, tzinfo=UTC)
CREATED = "2026-01-02T03:04:05Z"


def credential_v2(issuer: str = KEY.controller) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
        "id": "urn:uuid:7f1c3a52-0d3e-4b36-9a43-2f5b0d6f7a11",
        "type": ["VerifiableCredential", "ExampleCredential"],
        "issuer": issuer,
        "validFrom": "2026-01-01T00:00:00Z",
        "validUntil": "2027-01-01T00:00:00Z",
        "credentialSubject": {
            "id": "did:example:subject",
            "name": "Zoë Ångström-Nakamura 山田 🌃",
            "note": 'tab\there, bell\x07, quote " and backslash \\',
            "age": 42,
            "score": 1.5,
            "active": True,
        },
    }


def credential_v11(issuer: str = KEY.controller) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/2018/credentials/v1", "https://www.w3.org/2018/credentials/examples/v1"],
        "id": "http://example.edu/credentials/3732",
        "type": ["VerifiableCredential", "UniversityDegreeCredential"],
        "issuer": {"id": issuer, "name": "Example University"},
        "issuanceDate": "2026-01-01T00:00:00Z",
        "expirationDate": "2027-01-01T00:00:00Z",
        "credentialSubject": {
            "id": "did:example:ebfeb1f712ebc6f1c276e12ec21",
            "degree": {"type": "BachelorDegree", "name": "Bachelor of Science and Arts"},
        },
    }


SIGNED = {
    (version, suite): sign(make(), KEY, suite=suite, created=CREATED)
    for version, make in (("2.0", credential_v2), ("1.1", credential_v11))
    for suite in ("eddsa-rdfc-2022", "Ed25519Signature2020")
}


@pytest.mark.parametrize("case", sorted(SIGNED), ids=lambda c: f"{c[0]}-{c[1]}")
def test_signed_credentials_verify(case: tuple[str, str]) -> None:
    result = verify(SIGNED[case], now=NOW)
    assert result.verified, result.problems
    assert result.problems == ()
    assert [(p.suite, p.verified) for p in result.proofs] == [(case[1], True)]


def _problem(result: Any, code: str) -> Any:
    assert not result.verified
    found = [p for p in result.problems if p.code == code]
    assert found, result.problems
    return found[0]


GOOD = SIGNED[("2.0", "eddsa-rdfc-2022")]


def test_parsing_error() -> None:
    assert _problem(verify("{not json", now=NOW), "PARSING_ERROR")
    assert _problem(verify([GOOD], now=NOW), "PARSING_ERROR")
    assert verify(json.dumps(GOOD), now=NOW).verified  # JSON text is accepted


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("@context", ["https://www.w3.org/ns/credentials/examples/v2"], "@context must start"),
        ("type", ["ExampleCredential"], "VerifiableCredential"),
        ("issuer", 7, "issuer"),
        ("credentialSubject", 5, "credentialSubject"),
        ("validFrom", "1st of January", "validFrom"),
    ],
)
def test_malformed_value_error(field: str, value: Any, words: str) -> None:
    bad = dict(GOOD, **{field: value})
    assert words in _problem(verify(bad, now=NOW), "MALFORMED_VALUE_ERROR").detail


def test_a_credential_status_that_is_a_value_is_one_problem() -> None:
    """credentialStatus read as signed, once: a value where an object belongs is said once (it
    was said twice, by the type check of typed objects and again by the status reading)."""
    signed = sign(dict(credential_v2(), credentialStatus={"@value": "revoked"}), KEY, created=CREATED)
    result = verify(signed, now=NOW)
    said = [p.detail for p in result.problems if "credentialStatus" in p.detail]
    assert said == ['credentialStatus must be an object or a URL, not the value "revoked"'], result.problems
    assert not result.verified


def test_a_subject_written_as_a_relative_url_is_refused_as_such() -> None:
    # credentialSubject takes an id: a bare word is a relative URL, which nothing signs
    bad = dict(GOOD, credentialSubject="someone")
    assert _problem(verify(bad, now=NOW), "PROOF_TRANSFORMATION_ERROR").reason == "RELATIVE_IRI"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c.pop("proof"),
        lambda c: c.update(proof=[]),
        lambda c: c.update(proof="zSig"),
        lambda c: c["proof"].update(proofValue="uAAAA"),
        lambda c: c["proof"].update(proofValue="z" + "1" * 20),
        lambda c: c["proof"].pop("verificationMethod"),
        lambda c: c["proof"].update(created="yesterday"),
        lambda c: c["proof"].update(previousProof="urn:uuid:nothing"),
    ],
)
def test_malformed_proof_error(mutate: Any) -> None:
    bad = copy.deepcopy(GOOD)
    mutate(bad)
    _problem(verify(bad, now=NOW), "MALFORMED_PROOF_ERROR")


def test_unsupported_suite() -> None:
    problem = _problem(
        verify(SIGNED[("2.0", "Ed25519Signature2020")], suites=["eddsa-rdfc-2022"], now=NOW), "UNSUPPORTED_SUITE"
    )
    assert "Ed25519Signature2020" in problem.detail
    other = copy.deepcopy(GOOD)
    other["proof"]["cryptosuite"] = "ecdsa-rdfc-2019"
    assert "ecdsa-rdfc-2019" in _problem(verify(other, now=NOW), "UNSUPPORTED_SUITE").detail


def test_unaccepted_proofs_are_skipped_when_another_verifies() -> None:
    both = sign(GOOD, KEY, suite="Ed25519Signature2020", created=CREATED)
    result = verify(both, suites=["Ed25519Signature2020"], now=NOW)
    assert result.verified, result.problems
    assert [(p.suite, p.skipped, p.verified) for p in result.proofs] == [
        ("eddsa-rdfc-2022", True, False),
        ("Ed25519Signature2020", False, True),
    ]


def test_unknown_suite_name_is_the_callers_error() -> None:
    with pytest.raises(UnsupportedSuiteError):
        verify(GOOD, suites=["no-such-suite"])


def test_mismatched_proof_purpose() -> None:
    signed = sign(credential_v2(), KEY, created=CREATED, proof_purpose="authentication")
    assert "authentication" in _problem(verify(signed, now=NOW), "MISMATCHED_PROOF_PURPOSE_ERROR").detail
    assert verify(signed, now=NOW, proof_purpose="authentication").verified


def test_unknown_verification_method_is_named() -> None:
    key = Ed25519Key.from_seed(bytes(32), id="https://issuer.example#key-1", controller="https://issuer.example")
    signed = sign(credential_v2(issuer="https://issuer.example"), key, created=CREATED)
    problem = _problem(verify(signed, now=NOW), "UNKNOWN_VERIFICATION_METHOD")
    assert "https://issuer.example#key-1" in problem.detail
    # trusted as a verification method object
    assert verify(signed, now=NOW, verification_methods=[key.to_multikey()]).verified
    # trusted through a DID document: only for the relationships it lists
    document = {"id": "https://issuer.example", "verificationMethod": [key.to_multikey()], "authentication": [key.id]}
    assert (
        "not authorized"
        in _problem(verify(signed, now=NOW, verification_methods=[document]), "INVALID_VERIFICATION_METHOD").detail
    )
    document["assertionMethod"] = [key.id]
    assert verify(signed, now=NOW, verification_methods=[document]).verified


def test_invalid_verification_method() -> None:
    bad = copy.deepcopy(GOOD)
    bad["proof"]["verificationMethod"] = "did:key:z6MkNotAKey#z6MkNotAKey"
    _problem(verify(bad, now=NOW), "INVALID_VERIFICATION_METHOD")


def test_untrusted_keys_raise_before_any_credential() -> None:
    with pytest.raises(KeyFormatError):
        Verifier.create(verification_methods=[{"id": "urn:k", "controller": "urn:c", "publicKeyMultibase": "zBAD"}])


def test_a_verifier_shows_its_settings_and_hides_its_state() -> None:
    """Verifier.create and Verifier(...) take the same keywords and nothing else; help(), the
    signature and repr name no private field (keys, caches); the settings are read-only."""
    import inspect
    import pydoc

    create = inspect.signature(Verifier.create).parameters
    init = inspect.signature(Verifier).parameters
    options = ["suites", "contexts", "verification_methods", "trusted_issuers", "status", "store", "entity_types"]
    assert list(create) == options and list(init) == options
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in init.values())
    assert all(create[name].default == init[name].default for name in create)
    text = pydoc.render_doc(Verifier, renderer=pydoc.plaintext)
    assert "_trusted" not in text and "Cache" not in text and "_did_keys" not in text
    verifier = Verifier.create(trusted_issuers=[KEY.controller])
    shown = repr(verifier)
    assert shown.startswith("Verifier(suites=(") and "_trusted=" not in shown and "Cache" not in shown
    assert verifier.trusted_issuers == frozenset({KEY.controller})
    with pytest.raises(AttributeError):
        verifier.trusted_issuers = None  # type: ignore[misc]
    with pytest.raises(AttributeError):
        verifier.anything = 1  # type: ignore[attr-defined]
    assert Verifier(trusted_issuers=[KEY.controller]).verify(GOOD, now=NOW).verified
    assert not Verifier(trusted_issuers=[OTHER.controller]).verify(GOOD, now=NOW).verified


def test_issuer_mismatch() -> None:
    signed = sign(credential_v2(issuer=OTHER.controller), KEY, created=CREATED)
    problem = _problem(verify(signed, now=NOW), "ISSUER_MISMATCH")
    assert OTHER.controller in problem.detail and KEY.controller in problem.detail


@pytest.mark.parametrize(
    ("mutate", "reason", "named"),
    [
        (lambda c: c["credentialSubject"].update(nickname="x"), "UNDEFINED_TERM", None),
        (lambda c: c["type"].append("Relative"), "RELATIVE_IRI", "Relative"),
        (
            lambda c: c["@context"].append("https://contexts.example/unknown"),
            "UNKNOWN_CONTEXT",
            "https://contexts.example/unknown",
        ),
    ],
)
def test_proof_transformation_error(mutate: Any, reason: str, named: str | None) -> None:
    signed = copy.deepcopy(SIGNED[("1.1", "eddsa-rdfc-2022")])  # examples/v1 has no @vocab
    mutate(signed)
    problem = _problem(verify(signed, now=NOW), "PROOF_TRANSFORMATION_ERROR")
    assert problem.reason == reason
    assert named is None or named in problem.detail


def test_undefined_term_is_named_on_verify() -> None:
    signed = copy.deepcopy(SIGNED[("1.1", "eddsa-rdfc-2022")])
    signed["undefinedTerm"] = "foo"
    problem = _problem(verify(signed, now=NOW), "PROOF_TRANSFORMATION_ERROR")
    assert problem.reason == "UNDEFINED_TERM" and "undefinedTerm" in problem.detail


def test_poison_graph_in_a_credential_is_refused_quickly() -> None:
    nodes = [{"@id": f"_:e{i}"} for i in range(10)]
    for node in nodes:
        node["https://vocab.example/p"] = [{"@id": f"_:e{j}"} for j in range(10)]
    signed = copy.deepcopy(GOOD)
    signed["credentialSubject"]["https://vocab.example/knows"] = nodes
    problem = _problem(verify(signed, now=NOW), "PROOF_TRANSFORMATION_ERROR")
    assert problem.reason == "CANONICALIZATION_LIMIT"


def test_proof_verification_error() -> None:
    bad = copy.deepcopy(GOOD)
    bad["credentialSubject"]["age"] = 43
    assert "signature" in _problem(verify(bad, now=NOW), "PROOF_VERIFICATION_ERROR").detail


def test_suite_context_missing() -> None:
    bad = copy.deepcopy(SIGNED[("2.0", "Ed25519Signature2020")])
    bad["@context"] = bad["@context"][:2]
    assert _problem(verify(bad, now=NOW), "PROOF_VERIFICATION_ERROR").reason == "SUITE_CONTEXT_MISSING"


def test_proof_expired() -> None:
    signed = sign(credential_v2(), KEY, created=CREATED, expires="2026-03-01T00:00:00Z")
    assert verify(signed, now=datetime(2026, 2, 1, tzinfo=UTC)).verified
    _problem(verify(signed, now=NOW), "PROOF_EXPIRED")


@pytest.mark.parametrize("version", ["2.0", "1.1"])
def test_validity_window(version: str) -> None:
    signed = SIGNED[(version, "eddsa-rdfc-2022")]
    _problem(verify(signed, now=datetime(2025, 12, 31, tzinfo=UTC)), "NOT_YET_VALID")
    _problem(verify(signed, now=datetime(2027, 1, 2, tzinfo=UTC)), "EXPIRED")
    assert verify(signed, now=datetime(2026, 1, 1, tzinfo=UTC)).verified


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError):
        verify(GOOD, now=datetime(2026, 1, 1))


def test_internal_error_is_reported_not_raised() -> None:
    def broken(document: Any, contexts: Any) -> str:
        raise RuntimeError("suite bug")

    buggy = Suite(
        **{**{f: getattr(EDDSA_RDFC_2022, f) for f in EDDSA_RDFC_2022.__dataclass_fields__}, "transform": broken}
    )
    problem = _problem(verify(GOOD, suites=[buggy], now=NOW), "INTERNAL_ERROR")
    assert "suite bug" in problem.detail


def test_verify_does_not_mutate_the_credential() -> None:
    credential = copy.deepcopy(GOOD)
    verify(credential, now=NOW)
    assert credential == GOOD


def test_verifier_with_pinned_contexts() -> None:
    url = "https://contexts.example/health/v1"
    context = json.dumps({"@context": {"@protected": True, "licence": "https://vocab.example/licence"}}).encode()
    unsigned = credential_v2()
    unsigned["@context"] = [unsigned["@context"][0], url]
    unsigned["type"] = ["VerifiableCredential"]
    unsigned["credentialSubject"] = {"id": "did:example:subject", "licence": "MH-123"}
    loader = bundled_contexts().with_contexts({url: context})
    signed = sign(unsigned, KEY, created=CREATED, contexts=loader)
    assert Verifier.create(contexts=loader).verify(signed, now=NOW).verified
    assert _problem(verify(signed, now=NOW), "PROOF_TRANSFORMATION_ERROR").reason == "UNKNOWN_CONTEXT"


def test_result_as_json() -> None:
    bad = copy.deepcopy(GOOD)
    bad["credentialSubject"]["age"] = 43
    data = json.loads(json.dumps(verify(bad, now=NOW).to_dict()))
    assert data["verified"] is False
    assert data["problems"][0]["code"] == "PROOF_VERIFICATION_ERROR" and data["problems"][0]["proof"] == 0


# --- the mutation property -----------------------------------------------------------------------


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every scalar and every object key in a JSON document."""
    out: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            out.append((*path, ("key", key)))
            out.extend(_leaves(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.extend(_leaves(item, (*path, index)))
    else:
        out.append(path)
    return out


def _mutated(value: Any, position: int, replacement: str) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    text = str(value)
    index = position % max(len(text), 1)
    if text and text[index] == replacement:
        replacement = "x" if replacement != "x" else "y"
    return text[:index] + replacement + text[index + 1 :]


CASES = sorted(SIGNED)


# thousands of mutations in CI, a hundred locally
MUTATIONS = 2000 if os.environ.get("CI") else 100


@settings(max_examples=MUTATIONS)
@given(st.sampled_from(CASES), st.data(), st.integers(min_value=0), st.characters(codec="utf-8"))
def test_any_change_to_signed_content_fails(
    case: tuple[str, str], data: st.DataObject, position: int, replacement: str
) -> None:
    signed = copy.deepcopy(SIGNED[case])
    path = data.draw(st.sampled_from(_leaves(signed)))
    *parents, last = path
    holder: Any = signed
    for step in parents:
        holder = holder[step]
    if isinstance(last, tuple):  # rename an object key
        key = last[1]
        renamed = _mutated(key, position, replacement)
        if renamed in holder:
            return
        holder[renamed] = holder.pop(key)
    else:
        holder[last] = _mutated(holder[last], position, replacement)
    result = verify(signed, now=NOW)
    assert not result.verified, (path, result)


# --- hostile credentials (review findings) ----------------------------------------------------------


@pytest.mark.parametrize("case", sorted(SIGNED), ids=lambda c: f"{c[0]}-{c[1]}")
def test_content_added_with_odd_iris_does_not_verify(case: tuple[str, str]) -> None:
    forged = copy.deepcopy(SIGNED[case])
    forged["credentialSubject"] = [forged["credentialSubject"], {"id": "did:example:mallory\u00a0", "name": "Mallory"}]
    assert not verify(forged, now=NOW).verified
    forged = copy.deepcopy(SIGNED[case])
    forged["evidence"] = {"id": "urn:x y", "type": "Anything"}
    assert not verify(forged, now=NOW).verified


def _containers(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path] if isinstance(value, (dict, list)) else []
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(_containers(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.extend(_containers(item, (*path, index)))
    return out


_added_values = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=12),
    st.integers(-1000, 1000),
    st.booleans(),
    st.fixed_dictionaries({"id": st.sampled_from(["did:example:x", "urn:uuid:1", "did:example:y\u00a0", "urn:x y"])}),
    st.fixed_dictionaries({"name": st.text(max_size=5)}),
)


@settings(max_examples=MUTATIONS)
@given(
    st.sampled_from(CASES),
    st.data(),
    st.sampled_from(["name", "id", "type", "extra", "alumniOf", "@id", "@type"]),
    _added_values,
)
def test_any_addition_to_signed_content_fails(case: tuple[str, str], data: st.DataObject, key: str, value: Any) -> None:
    signed = copy.deepcopy(SIGNED[case])
    path = data.draw(st.sampled_from([p for p in _containers(signed) if "proof" not in p[:1]]))
    holder: Any = signed
    for step in path:
        holder = holder[step]
    if isinstance(holder, dict):
        if key in holder:
            return
        holder[key] = value
    else:
        holder.append(value)
    assert not verify(signed, now=NOW).verified, (path, key, value)


@pytest.mark.slow
def test_one_verifier_many_threads() -> None:
    import threading

    verifier = Verifier.create()
    credentials = list(SIGNED.values())
    failures: list[Any] = []

    def work() -> None:
        for i in range(60):
            result = verifier.verify(credentials[i % len(credentials)], now=NOW)
            if not result.verified:
                failures.append(result.problems)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_a_did_document_speaks_only_for_its_own_keys() -> None:
    victim = "did:example:victim"
    attacker = Ed25519Key.from_seed(bytes(range(2, 34)), id="did:example:attacker#k", controller=victim)
    document = {"id": "did:example:attacker", "verificationMethod": [attacker.to_multikey()], "assertionMethod": ["#k"]}
    with pytest.raises(KeyFormatError) as caught:
        Verifier.create(verification_methods=[document])
    assert "cannot vouch" in caught.value.message
    # relative references resolve against the document's DID
    own = Ed25519Key.from_seed(bytes(range(3, 35)), id="did:example:issuer#key-1", controller="did:example:issuer")
    method = {**own.to_multikey(), "id": "#key-1"}
    method.pop("@context")
    good = {"id": "did:example:issuer", "verificationMethod": [method], "assertionMethod": ["#key-1"]}
    signed = sign(credential_v2(issuer="did:example:issuer"), own, created=CREATED)
    assert verify(signed, now=NOW, verification_methods=[good]).verified


def test_a_bare_did_is_not_a_verification_method() -> None:
    bad = copy.deepcopy(GOOD)
    bad["proof"]["verificationMethod"] = KEY.controller
    _problem(verify(bad, now=NOW), "INVALID_VERIFICATION_METHOD")


def test_did_key_must_be_base58btc() -> None:
    from vccore import _multibase

    bad = copy.deepcopy(GOOD)
    u_form = "u" + _multibase.b64url_encode(b"\xed\x01" + KEY.public_bytes)
    bad["proof"]["verificationMethod"] = f"did:key:{u_form}#{u_form}"
    _problem(verify(bad, now=NOW), "INVALID_VERIFICATION_METHOD")


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(GOOD)[:-1] + ', "issuer": "did:example:other"}',  # duplicate key
        json.dumps(GOOD).replace('"age": 42', '"age": NaN'),
        json.dumps(GOOD).replace('"age": 42', '"age": Infinity'),
    ],
)
def test_json_text_is_read_strictly(text: str) -> None:
    _problem(verify(text, now=NOW), "PARSING_ERROR")


def test_non_json_values_are_a_problem_not_a_crash() -> None:
    for value in (float("nan"), "lone \ud800", 10**400):
        bad = copy.deepcopy(GOOD)
        bad["credentialSubject"]["age"] = value
        result = verify(bad, now=NOW)
        assert not result.verified
        assert "INTERNAL_ERROR" not in result.codes


def test_trusted_issuers() -> None:
    assert verify(GOOD, now=NOW, trusted_issuers=[KEY.controller]).verified
    problem = _problem(verify(GOOD, now=NOW, trusted_issuers=["did:example:ministry"]), "UNTRUSTED_ISSUER")
    assert KEY.controller in problem.detail


def test_too_many_proofs() -> None:
    many = copy.deepcopy(GOOD)
    many["proof"] = [GOOD["proof"]] * 17
    assert "at most" in _problem(verify(many, now=NOW), "MALFORMED_PROOF_ERROR").detail


def test_fields_of_other_suites_are_signed_content() -> None:
    for field_name in ("jws", "signatureValue"):
        bad = copy.deepcopy(GOOD)
        bad["proof"][field_name] = "x"
        assert not verify(bad, now=NOW).verified


def test_created_must_be_exactly_a_date_time() -> None:
    bad = copy.deepcopy(GOOD)
    bad["proof"]["created"] = CREATED + "\n"
    _problem(verify(bad, now=NOW), "MALFORMED_PROOF_ERROR")


def test_a_chain_verifies_and_breaks_with_its_predecessor() -> None:
    first = sign(credential_v2(), KEY, created=CREATED, proof_id="urn:uuid:first")
    chained = sign(first, KEY, created="2026-01-03T00:00:00Z", previous_proof="urn:uuid:first")
    result = verify(chained, now=NOW)
    assert result.verified, result.problems
    assert [p.verified for p in result.proofs] == [True, True]
    tampered = copy.deepcopy(chained)
    tampered["proof"][0]["created"] = "2026-01-02T03:04:06Z"
    assert [p.proof for p in verify(tampered, now=NOW).problems] == [0, 1]
    selfish = copy.deepcopy(chained)
    selfish["proof"][1]["id"] = "urn:uuid:second"
    selfish["proof"][1]["previousProof"] = "urn:uuid:second"
    _problem(verify(selfish, now=NOW), "MALFORMED_PROOF_ERROR")


def test_a_second_proof_by_someone_else_is_an_endorsement_not_a_forgery() -> None:
    """Proof sets and chains may hold proofs by others (the W3C eddsa suite's previousProof
    fixtures do); one proof must be the issuer's, and every proof must verify."""
    by_issuer = sign(credential_v2(issuer=KEY.controller), KEY, created=CREATED, proof_id="urn:uuid:first")
    endorsed = sign(by_issuer, OTHER, created=CREATED, previous_proof="urn:uuid:first")
    assert verify(endorsed, now=NOW).verified
    set_of_two = sign(by_issuer, OTHER, created=CREATED)
    assert verify(set_of_two, now=NOW).verified
    # only others' proofs: refused, whoever they are
    by_others = sign(sign(credential_v2(issuer=KEY.controller), OTHER, created=CREATED), OTHER, created=CREATED)
    result = verify(by_others, now=NOW)
    assert (
        not result.verified
        and result.codes == ("ISSUER_MISMATCH",)
        and "nor of any of the other 1" in result.problems[0].detail
    )
    # an endorsement that does not verify spoils the credential
    broken = json.loads(json.dumps(endorsed))
    broken["proof"][1]["proofValue"] = broken["proof"][0]["proofValue"]
    assert not verify(broken, now=NOW).verified


# --- a Verifier shared by threads; its caches bounded (issue #16) ----------------------------------


def _credentials_by_many_issuers(count: int, folder: Any) -> list[dict[str, Any]]:
    """One certificate (status entries and all: a shape the verifier compiles) in the names of
    ``count`` issuers, each signed by its own did:key."""
    from vccore import SQLiteStore, bundled_entity_types
    from vccore.issuer import Issuer

    hp = bundled_entity_types()["HealthProfessional"]
    assert hp.example is not None
    issued = (
        Issuer(signer=KEY, store=SQLiteStore(folder / "s.db", status_url="https://issuer.example/status/"))
        .certify(hp, {**hp.example, "validTill": "2030-01-01T00:00:00Z"}, now=NOW)
        .credential
    )
    out = []
    for i in range(1, count + 1):
        key = Ed25519Key.from_seed(i.to_bytes(32, "big"))
        unsigned = {k: v for k, v in copy.deepcopy(issued).items() if k != "proof"}
        unsigned["issuer"]["id"] = key.controller
        out.append(sign(unsigned, key, created=CREATED, contexts=hp.context_loader()))
    return out


def test_the_bounded_map_remembers_what_it_made_none_too() -> None:
    """Cache.get_or_make (the compiled JSON texts, the signed-form readers, the Express paths):
    a made value is kept, None as well (an answer, not an absence); keep=False makes it each
    time; past the bound the oldest goes."""
    from vccore._cache import Cache

    made: list[str] = []

    def make(value: str | None, name: str) -> Any:
        return lambda: made.append(name) or value

    cache: Cache[str, str | None] = Cache(2)
    assert cache.get_or_make("a", make(None, "a")) is None and cache.get_or_make("a", make("x", "a2")) is None
    assert cache.get_or_make("b", make("B", "b")) == "B" == cache.get_or_make("b", make("y", "b2"))
    assert cache.get_or_make("c", make("C", "c"), keep=False) == "C" and cache.get_or_make("c", make("D", "c2")) == "D"
    assert made == ["a", "b", "c", "c2"] and len(cache) == 2  # "c" kept the second time, "a" evicted
    assert cache.get_or_make("a", make("A", "a3")) == "A" and made[-1] == "a3"


@pytest.mark.slow
def test_a_verifier_shared_by_threads_never_fails_inside(tmp_path: Any) -> None:
    """Eight threads, one Verifier, credentials of more issuers than its caches hold: every
    eviction races with the others. Before the caches held locks, 26 of 10,400 verifications (8
    threads, 1,300 issuers, the default cache sizes) ended in INTERNAL_ERROR: KeyError. Here the
    caches are made small, so that evictions come at every call."""
    import sys
    import threading

    from vccore._cache import Cache

    credentials = _credentials_by_many_issuers(120, tmp_path)
    verifier = Verifier.create()
    verifier._did_keys = Cache(3)
    verifier._shapes.compiled = Cache(2)
    verifier._shapes.seen = Cache(5)
    verifier._lists = Cache(2)
    verifier._list_seen = Cache(2)
    failures: list[tuple[str, ...]] = []

    def work(offset: int) -> None:
        for i in range(len(credentials)):
            result = verifier.verify(credentials[(i * 7 + offset * 31) % len(credentials)], now=NOW)
            if not result.verified:
                failures.append(result.codes)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []


def test_compiled_shapes_are_bounded_whoever_sends_them(tmp_path: Any) -> None:
    """Any did:key is an issuer, and each issuer's credentials are a shape of their own: the
    verifier keeps at most 64 compiled shapes (about 100 KB each), however many it is sent."""
    verifier = Verifier.create()
    for credential in _credentials_by_many_issuers(80, tmp_path):
        for _ in range(2):  # compiled on second sight
            assert verifier.verify(credential, now=NOW).verified
    assert len(verifier._shapes.compiled) == 64
    assert sum(1 for (compiled,) in verifier._shapes.compiled.values() if compiled is not None) == 64


def test_the_checks_are_handed_the_signed_form_never_the_json() -> None:
    """What keeps a new check from reading a JSON key by mistake: the data model, validity,
    related resource, presentation and status checks take the signed form's nodes (vccore._signed),
    and none of their parameters can hold the credential's JSON."""
    import ast
    import importlib

    checks = {"_check_data_model", "_check_presentation", "_check_related_resources", "_check_validity"}
    found: dict[str, list[str]] = {}
    for module in ("vccore.verify.data_model", "vccore.status.check"):
        source = Path(importlib.import_module(module).__file__ or "").read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef) and node.name == "StatusCheck":
                for item in node.body:
                    if isinstance(item, ast.FunctionDef):
                        found[f"StatusCheck.{item.name}"] = [
                            ast.unparse(a.annotation) for a in item.args.args[1:] if a.annotation is not None
                        ]
            elif isinstance(node, ast.FunctionDef) and node.name in checks:
                found[node.name] = [ast.unparse(a.annotation) for a in node.args.args if a.annotation is not None]
    assert checks <= found.keys() and "StatusCheck.__init__" in found
    for name, written in found.items():
        for annotation in written:
            assert "Mapping" not in annotation and "Any" not in annotation and "dict" not in annotation, (
                name,
                annotation,
            )


def test_a_verifier_given_entity_types_reads_their_pinned_contexts(tmp_path: Any) -> None:
    # issue 18: `vccore serve --templates DIR` certified a credential of its own custom type and
    # then refused it (PROOF_TRANSFORMATION_ERROR: the type's context is not pinned): the
    # verifier knew the types' shapes but not their contexts.
    from conftest import CUSTOM_CONTEXT, custom_type_folder

    from vccore import issue, load_entity_types

    types = load_entity_types(custom_type_folder(tmp_path))
    key = Ed25519Key.generate()
    trainee = types["Trainee"]
    assert trainee.example is not None
    credential = issue(trainee, trainee.example, signer=key, now=datetime(2024, 1, 1, tzinfo=UTC))
    assert CUSTOM_CONTEXT in credential["@context"]
    at = datetime(2024, 1, 2, tzinfo=UTC)
    assert Verifier.create(entity_types=types).verify(credential, now=at).verified
    # without the types, the context is unknown, and said so
    refused = Verifier.create().verify(credential, now=at)
    assert not refused.verified and CUSTOM_CONTEXT in str(refused.problems)
