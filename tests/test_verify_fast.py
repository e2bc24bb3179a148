"""Verifier.verify's compiled path for documents of no entity type (what vccore.issue makes, what
Sunbird's templates make): the verdict and every problem the reference path (pyld) gives, for
any values and any tampering; taken only once the reference path has made the skeleton's
documents the same way; never fooled by a context that rewrites the compiled form's tokens."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_sign_fast import reference_path  # every sign and verify through pyld

import vccore
from vccore._compiled import slot_token
from vccore.verify import verifier as verifier_module

KEY = vccore.Ed25519Key.generate()
OTHER = vccore.Ed25519Key.generate()
PAYLOAD = {
    "name": "Neha",
    "registrationId": "12345-8",
    "registrationCouncil": "Karnataka",
    "certificateId": "614894628867",
    "validFrom": "2023-09-09T21:01:01.121Z",
}
TEXT = st.one_of(
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=30),
    st.text(st.sampled_from(['"', "\\", "\n", "\t", "\x00", "\u2028", "é", "😀", "a", " "]), min_size=1),
)


def issue(i: int, **values: str) -> dict[str, Any]:
    return vccore.issue(
        "HealthProfessional",
        {**PAYLOAD, "name": f"Neha {i}", "certificateId": str(614894628867 + i), **values},
        signer=KEY,
    )


@contextmanager
def counting_reference_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many documents the verifier read through pyld (its to_quads)."""
    calls: list[int] = []
    real = verifier_module.to_quads

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(verifier_module, "to_quads", counted)
    yield calls


def verdict(result: vccore.VerificationResult) -> tuple[Any, ...]:
    return (result.verified, [(p.code, p.detail) for p in result.problems], [(p.code) for p in result.warnings])


def warm(verifier: vccore.Verifier) -> None:
    """Two sights to compile the skeleton, three checked uses: then the compiled form alone."""
    for i in range(6):
        assert verifier.verify(issue(1000 + i)).verified


def test_the_compiled_path_is_taken_once_the_reference_path_made_the_skeleton(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = vccore.Verifier.create()
    with counting_reference_reads(monkeypatch) as calls:
        # (signing shares the skeletons, and checks its own uses: how many of these six go
        # through pyld depends on what this process signed before)
        warm(verifier)
        before = len(calls)
        credentials = [issue(i) for i in range(20)]
        assert all(verifier.verify(c).verified for c in credentials)
        assert len(calls) == before  # none: every document and proof read by its compiled form
        # a credential of another shape (another issuer, not hierarchical: part of the skeleton)
        other = vccore.issue("HealthProfessional", PAYLOAD, signer=vccore.Ed25519Key.generate())
        assert verifier.verify(other).verified
        assert len(calls) == before + 1


def test_vccore_verify_shares_the_compiled_skeletons_between_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    with counting_reference_reads(monkeypatch) as calls:
        for i in range(6):
            assert vccore.verify(issue(2000 + i), trusted_issuers=[KEY.controller]).verified
        before = len(calls)
        assert vccore.verify(issue(2100), trusted_issuers=[KEY.controller]).verified
        assert len(calls) == before


def tamper(credential: dict[str, Any], where: str, value: Any) -> dict[str, Any]:
    forged = copy.deepcopy(credential)
    if where == "name":
        forged["credentialSubject"]["name"] = value
    elif where == "issuer":
        forged["issuer"]["id"] = value
    elif where == "validFrom":
        forged["validFrom"] = value
    elif where == "registrationId":
        forged["evidence"]["registrationId"] = value
    elif where == "created":
        forged["proof"]["created"] = value
    elif where == "proofValue":
        forged["proof"]["proofValue"] = "z" + value
    elif where == "context":
        forged["@context"] = [*forged["@context"], {"name": "https://evil.example/name"}]
    elif where == "alias":
        forged["credentialSubject"] = {"type": "Person", "https://schema.org/name": value}
    return forged


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    names=st.lists(TEXT, min_size=1, max_size=4),
    where=st.sampled_from(
        ["none", "name", "issuer", "validFrom", "registrationId", "created", "proofValue", "context", "alias"]
    ),
    value=st.one_of(
        TEXT,
        st.sampled_from(
            ["2020-01-01T00:00:00Z", "not a date", "https://evil.example/", "did:key:z6Mk", "\ud800", "@id", ""]
        ),
    ),
)
def test_a_verdict_by_the_compiled_path_is_the_reference_paths(names: list[str], where: str, value: Any) -> None:
    verifier = vccore.Verifier.create()
    warm(verifier)
    for name in names:
        credential = issue(7, name=name)
        candidate = credential if where == "none" else tamper(credential, where, value)
        fast = verdict(verifier.verify(candidate))
        with reference_path():
            reference = verdict(vccore.Verifier.create().verify(candidate))
        assert fast == reference
        if where == "none":
            assert fast[0]


def test_a_context_that_rewrites_the_tokens_cannot_carry_a_signature_to_other_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a context that makes ``urn:`` a prefix, the compiled form of a skeleton would hold the
    rewritten token where the value goes. A sender who signs (with any did:key) the documents
    whose value is the token's own text makes the reference path agree with that form for the
    checked uses; one signature would then vouch for every value. The skeleton is not compiled,
    and the other value is read, through pyld, as not signed."""
    # (scoped to one property, so that the issuer's IRI is read as usual)
    scoped = {"urn": "https://evil.example/", "homepage": {"@id": "https://schema.org/url", "@type": "@id"}}
    context = {"profile": {"@id": "https://example.org/profile", "@context": scoped}}

    def document(homepage: str) -> dict[str, Any]:
        return {
            "@context": ["https://www.w3.org/ns/credentials/v2", context],
            "type": ["VerifiableCredential"],
            "issuer": OTHER.controller,
            "credentialSubject": {"profile": {"homepage": homepage}},
        }

    verifier = vccore.Verifier.create()
    with reference_path():
        signed = vccore.sign(document(slot_token(1)), OTHER)  # leaf 0 is the issuer
    with counting_reference_reads(monkeypatch) as calls:
        for _ in range(8):
            assert verifier.verify(signed).verified
        forged = {**signed, "credentialSubject": {"profile": {"homepage": "https://a.example/anything"}}}
        result = verifier.verify(forged)
        assert not result.verified
        assert [p.code for p in result.problems] == [vccore.ProblemCode.PROOF_VERIFICATION_ERROR]
        assert len(calls) == 9  # every one through pyld


def test_a_large_document_is_not_compiled_by_a_verifier(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compiling costs more than the reference path as documents grow, and senders choose them."""
    subject = {f"https://example.org/p{i}": f"v{i}" for i in range(200)}
    unsigned = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": OTHER.controller,
        "credentialSubject": subject,
    }
    signed = vccore.sign(unsigned, OTHER)
    verifier = vccore.Verifier.create()
    with counting_reference_reads(monkeypatch) as calls:
        for _ in range(8):
            assert verifier.verify(signed).verified
        assert len(calls) == 8


def test_a_bounded_verification_gives_the_verdict_or_steps_aside() -> None:
    """verify_bounded (what a server runs in its event loop) gives verify's verdict for what takes
    little work, and None (verify it with the whole budget) for what takes more, even when the
    whole budget would refuse it too."""
    verifier = vccore.Verifier.create()
    credential = issue(3000)
    quick = verifier.verify_bounded(credential, json_values=500, rdfc_work=2_000)
    assert quick is not None and verdict(quick) == verdict(verifier.verify(credential))
    forged = tamper(credential, "name", "Eve")
    quick = verifier.verify_bounded(forged, json_values=500, rdfc_work=2_000)
    assert quick is not None and not quick.verified
    # a credential of 600 values, never seen: more than the bound, within the whole budget
    wide = vccore.sign(
        {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential"],
            "issuer": OTHER.controller,
            "credentialSubject": {f"https://example.org/v{i}": [f"v{i}.{j}" for j in range(20)] for i in range(30)},
        },
        OTHER,
    )
    assert verifier.verify_bounded(wide, json_values=500, rdfc_work=2_000) is None
    assert verifier.verify(wide).verified


def test_a_bounded_verification_steps_aside_for_a_source_that_would_wait(tmp_path: Any) -> None:
    """A status source that would wait (the server's cache about to query the store and sign
    the lists anew) answers nothing inside verify_bounded and says so: the verification is then
    run where waiting is allowed, never judged on a list it did not get."""
    from vccore.status.resolve import status_resolver, would_wait

    store = vccore.open_store(str(tmp_path / "s.db"), status_url="https://issuer.example/status/")
    issuer = vccore.Issuer(signer=KEY, store=store)
    certified = issuer.certify("HealthProfessional", {**PAYLOAD, "certificateId": "900000000001"}).credential
    issuer.export_status(tmp_path / "status")
    folder = status_resolver(str(tmp_path / "status"))
    fresh = {"lists": False}

    def source(url: str) -> Any:
        if not fresh["lists"] and would_wait():
            return None
        return folder(url)

    verifier = vccore.Verifier.create(status=source)
    assert verifier.verify_bounded(certified, json_values=500, rdfc_work=2_000) is None
    assert verifier.verify(certified).verified
    fresh["lists"] = True
    quick = verifier.verify_bounded(certified, json_values=500, rdfc_work=2_000)
    assert quick is not None and quick.verified
    store.close()
