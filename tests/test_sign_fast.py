"""vccore.sign's compiled path (vccore.proofs, process-wide DocumentShapes): byte for byte what
the reference path (pyld) signs, for any values; the reference path's errors, raised the same
way once a skeleton is compiled; the JCS suite left alone."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

import vccore
from vccore import proofs
from vccore.canon import canonicalize
from vccore.suites import get_suite

KEY = vccore.Ed25519Key.generate()
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
HEALTH = vccore.bundled_entity_types()["HealthProfessional"]
VACCINATION = vccore.bundled_entity_types()["VaccinationCertificate"]
LOADER = HEALTH.context_loader()

# JSON text's troubles: escapes, quotes, control characters, line and paragraph separators, and
# astral-plane characters (no lone surrogates: those are the reference path's to refuse, below)
TEXT = st.one_of(
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=40),
    st.text(
        st.sampled_from(['"', "\\", "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "\u2028", "é", "😀", "a"]), min_size=1
    ),
    st.text(st.characters(codec="utf-8"), min_size=200, max_size=256),
)
IRI = st.one_of(
    st.from_regex(r"https?://[a-z]{1,8}\.example(/[a-z0-9._~%-]{0,8}){0,3}([?#][a-z0-9=&]{0,6})?", fullmatch=True),
    st.sampled_from(
        [
            "https://ü.example/ä",
            "https://a.example/b c",
            "https://a.example/<b>",
            "https://a.example/\x00",
            "did:example:123",
            "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
            "relative/path",
            "@keyword",
            "",
        ]
    ),
)


def outcome(call: Callable[[], dict[str, Any]]) -> tuple[Any, ...]:
    """The signed credential, or the error's class, code and message."""
    try:
        return ("signed", call())
    except vccore.VccoreError as exc:
        return (type(exc).__name__, exc.code, str(exc))


@contextmanager
def reference_path() -> Iterator[None]:
    proofs._REFERENCE_ONLY.active = True
    try:
        yield
    finally:
        proofs._REFERENCE_ONLY.active = False


def both(call: Callable[[], dict[str, Any]]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    fast = outcome(call)
    with reference_path():
        reference = outcome(call)
    if currently_in_test_context():
        event(str(fast[0]))  # --hypothesis-show-statistics: how many examples signed, how many raised
    return fast, reference


@pytest.fixture
def reference_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times the RDFC-1.0 reference path canonicalizes."""
    calls: list[int] = []
    real = canonicalize

    def counted(*args: Any, **kwargs: Any) -> str:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr("vccore.suites._base.canonicalize", counted)
    return calls


def unsigned(**changes: Any) -> dict[str, Any]:
    """A HealthProfessional credential without its proof, with ``a__b=value`` set at a.b."""
    document = vccore.issue(HEALTH, HEALTH.sample_payload(), signer=KEY, now=NOW)
    del document["proof"]
    for path, value in changes.items():
        node = document
        *parents, last = path.split("__")
        for step in parents:
            node = node[step]
        node[last] = value
    return document


def warm(count: int = 6) -> None:
    """Sign enough documents of the unsigned() skeleton for its shape to be compiled and checked."""
    for n in range(count):
        vccore.sign(
            unsigned(credentialSubject__name=f"warm {n}", issuer__url=f"https://w{n}.example/"),
            KEY,
            created=NOW,
            contexts=LOADER,
        )


def test_issue_takes_the_compiled_path_once_the_shape_is_known(reference_calls: list[int]) -> None:
    payload = HEALTH.sample_payload()
    for n in range(6):
        vccore.issue("HealthProfessional", {**payload, "name": f"warm {n}"}, signer=KEY)
    reference_calls.clear()
    for n in range(10):
        vccore.issue("HealthProfessional", {**payload, "name": f"Neha {n}"}, signer=KEY)
    assert reference_calls == []
    with reference_path():
        vccore.issue("HealthProfessional", payload, signer=KEY)
    assert len(reference_calls) == 2  # the proof configuration and the document


def test_the_loader_vccore_issue_passes_is_one_object() -> None:
    # the process-wide shapes are keyed by the loader object: a new one per call would never compile
    assert HEALTH.context_loader(None) is HEALTH.context_loader(None)
    assert proofs._document_shapes(get_suite("eddsa-rdfc-2022"), LOADER) is proofs._document_shapes(
        get_suite("Ed25519Signature2020"), LOADER
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=TEXT,
    council=TEXT,
    registration=TEXT,
    university=TEXT,
    gender=TEXT,
    issuer=IRI,
    required_only=st.booleans(),
)
def test_issue_is_byte_for_byte_the_reference_path(
    name: str, council: str, registration: str, university: str, gender: str, issuer: str, required_only: bool
) -> None:
    payload = HEALTH.sample_payload(required_only=required_only)
    for n in range(5):  # the skeleton compiled and past its checked uses before the example
        vccore.issue(HEALTH, {**payload, "name": f"warm {n}"}, signer=KEY, now=NOW)
    payload.update(name=name, registrationCouncil=council, registrationId=registration)
    if not required_only:
        payload.update(university=university, gender=gender, issuer=issuer)
    fast, reference = both(lambda: vccore.issue(HEALTH, payload, signer=KEY, now=NOW))
    assert fast == reference


@settings(max_examples=150, deadline=None)
@given(name=TEXT, url=IRI, valid_from=TEXT, domain=st.none() | TEXT, proof_id=st.none() | IRI)
def test_sign_is_byte_for_byte_the_reference_path(
    name: str, url: str, valid_from: str, domain: str | None, proof_id: str | None
) -> None:
    warm()
    for n in range(4):  # the proof configuration with an id: compiled too
        vccore.sign(unsigned(), KEY, created=NOW, contexts=LOADER, proof_id=f"https://p.example/{n}")
    document = unsigned(credentialSubject__name=name, issuer__url=url, validFrom=valid_from)
    fast, reference = both(
        lambda: vccore.sign(document, KEY, created=NOW, contexts=LOADER, domain=domain, proof_id=proof_id)
    )
    assert fast == reference


@pytest.mark.parametrize(
    ("changes", "error", "code"),
    [
        ({"credentialSubject__name": "\ud800"}, "CanonicalizationError", "INVALID_JSON"),
        ({"credentialSubject__name": object()}, "CanonicalizationError", "INVALID_JSON"),
        ({"credentialSubject__name": float("nan")}, "CanonicalizationError", "INVALID_JSON"),
        ({"credentialSubject__name": 2**60}, "SafeModeError", "DATA_LOSS"),
        ({"credentialSubject__name": {"@value": "x", "@language": "en US"}}, "SafeModeError", "DATA_LOSS"),
        ({"credentialSubject__undefinedTerm": "x"}, "SafeModeError", "UNDEFINED_TERM"),
        ({"issuer__url": "https://exa mple.org"}, "SafeModeError", "RELATIVE_IRI"),
        ({"issuer__url": "https://a.example/\x00"}, "SafeModeError", "RELATIVE_IRI"),
        ({"issuer__url": "https://a.example/<b>"}, "SafeModeError", "RELATIVE_IRI"),
        ({"issuer__url": "https://a.example/{b}"}, "SafeModeError", "RELATIVE_IRI"),
        ({"issuer__url": "relative"}, "SafeModeError", "RELATIVE_IRI"),
        ({"issuer__url": ""}, "SafeModeError", "RELATIVE_IRI"),
        ({"issuer__url": "@keyword"}, "SafeModeError", "DATA_LOSS"),
    ],
)
def test_a_compiled_shape_raises_what_the_reference_path_raises(
    changes: dict[str, Any], error: str, code: str, reference_calls: list[int]
) -> None:
    warm()
    reference_calls.clear()
    vccore.sign(unsigned(credentialSubject__name="compiled"), KEY, created=NOW, contexts=LOADER)
    assert reference_calls == []  # the skeleton is compiled: the bad document meets the compiled shape
    document = unsigned(**changes)
    fast, reference = both(lambda: vccore.sign(document, KEY, created=NOW, contexts=LOADER))
    assert fast == reference
    assert fast[:2] == (error, vccore.ErrorCode(code))


@pytest.mark.parametrize("suite", ["Ed25519Signature2018", "Ed25519Signature2020", "eddsa-rdfc-2022"])
@settings(max_examples=40, deadline=None)
@given(name=TEXT, url=IRI)
def test_every_rdf_suite_signs_what_the_reference_path_signs(suite: str, name: str, url: str) -> None:
    def document(name: str, url: str) -> dict[str, Any]:
        payload = {**HEALTH.sample_payload(), "name": name}
        credential = vccore.issue(HEALTH, payload, signer=KEY, now=NOW, vc_version="1.1")
        del credential["proof"]
        credential["issuer"]["url"] = url
        return credential

    for n in range(5):
        vccore.sign(document(f"warm {n}", f"https://w{n}.example/"), KEY, suite=suite, created=NOW, contexts=LOADER)
    signed = document(name, url)
    fast, reference = both(lambda: vccore.sign(signed, KEY, suite=suite, created=NOW, contexts=LOADER))
    assert fast == reference


def test_the_2018_suite_keeps_rdf_canonize_1_literals(reference_calls: list[int]) -> None:
    for n in range(5):
        vccore.sign(unsigned(credentialSubject__name=f"warm {n}"), KEY, suite="Ed25519Signature2018", created=NOW)
    # a tab: rdf-canonize 1.x writes it raw, RDFC-1.0 escapes it
    document = unsigned(credentialSubject__name="tab\there")
    fast, reference = both(lambda: vccore.sign(document, KEY, suite="Ed25519Signature2018", created=NOW))
    assert fast == reference
    assert proofs._document_shapes(get_suite("Ed25519Signature2018").transform, vccore.bundled_contexts()) is not None


def test_jcs_is_left_to_its_own_transform() -> None:
    assert proofs._document_shapes(get_suite("eddsa-jcs-2022").transform, LOADER) is None
    payload = VACCINATION.sample_payload()
    for n in range(4):
        vccore.issue(VACCINATION, {**payload, "recipientName": f"warm {n}"}, signer=KEY, now=NOW)
    fast, reference = both(lambda: vccore.issue(VACCINATION, payload, signer=KEY, now=NOW))
    assert fast == reference


def test_what_issue_makes_on_the_compiled_path_verifies() -> None:
    payload = {**HEALTH.sample_payload(), "validTill": "2099-01-01T00:00:00Z"}
    for n in range(5):
        vccore.issue("HealthProfessional", {**payload, "name": f"warm {n}"}, signer=KEY)
    verifier = vccore.Verifier.create(trusted_issuers=[KEY.controller])
    for name in ["Neha", "تحقق\t\n", "😀" * 64]:
        credential = vccore.issue("HealthProfessional", {**payload, "name": name}, signer=KEY)
        result = verifier.verify(credential)
        assert result.verified, result
        tampered = copy.deepcopy(credential)
        tampered["credentialSubject"]["name"] = name + "!"
        assert not verifier.verify(tampered).verified


def test_the_shapes_are_bounded() -> None:
    rdfc = get_suite("eddsa-rdfc-2022")
    for n in range(40):
        loader = vccore.bundled_contexts().with_contexts({f"https://example.org/{n}": b'{"@context": {}}'})
        assert proofs._document_shapes(rdfc.transform, loader) is not None
    assert len(proofs._SHAPES) <= 32


@settings(max_examples=40, deadline=None)
@given(name=TEXT, challenge=TEXT, purpose=st.sampled_from(["assertionMethod", "authentication", "https://a.example/p"]))
def test_proof_chains_sign_what_the_reference_path_signs(name: str, challenge: str, purpose: str) -> None:
    def chained(name: str) -> dict[str, Any]:
        first = vccore.sign(unsigned(credentialSubject__name=name), KEY, created=NOW, proof_id="urn:proof:1")
        return vccore.sign(first, KEY, created=NOW, proof_id="urn:proof:2", previous_proof="urn:proof:1")

    for n in range(5):
        chained(f"warm {n}")
    document = chained(name)
    fast, reference = both(
        lambda: vccore.sign(
            document, KEY, created=NOW, previous_proof="urn:proof:2", challenge=challenge, proof_purpose=purpose
        )
    )
    assert fast == reference


def test_threads_sign_what_the_reference_path_signs() -> None:
    payload = HEALTH.sample_payload()
    names = [f"thread {n} \u00e9\t{n * 7}" for n in range(64)]

    def fast(name: str) -> dict[str, Any]:
        return vccore.issue(HEALTH, {**payload, "name": name}, signer=KEY, now=NOW)

    with ThreadPoolExecutor(max_workers=8) as pool:
        signed = list(pool.map(fast, names))
    with reference_path():
        assert signed == [fast(name) for name in names]


def test_issue_shares_no_object_with_its_template_or_the_next_credential() -> None:
    """vccore.issue saves sign's deep copy of a credential it made itself (a JSON template's
    payload values are scalars; a Handlebars template's credential is parsed anew): changing
    every object and array of one credential changes nothing in the next."""
    payload = {"name": "Neha", "registrationId": "1", "registrationCouncil": "K", "certificateId": "1"}
    first = vccore.issue("HealthProfessional", payload, signer=KEY, now=NOW)
    kept = copy.deepcopy(first)

    def scribble(node: Any) -> None:
        if isinstance(node, dict):
            for value in list(node.values()):
                scribble(value)
            node["scribbled"] = True
        elif isinstance(node, list):
            for value in node:
                scribble(value)
            node.append("scribbled")

    scribble(first)
    assert vccore.issue("HealthProfessional", payload, signer=KEY, now=NOW) == kept
