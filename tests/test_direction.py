"""Base direction (``@direction``) signed as Digital Bazaar's JS stack signs it, offline.

Their eddsa-rdfc-2022 cryptosuite and jsonld-signatures 11 (under Ed25519Signature2020)
canonicalize with ``rdfDirection: 'i18n-datatype'``: the direction is in the literal's datatype,
so it is signed. These tests sign on each side and verify on the other, flip the direction on
each side, and compare vccore's canonical N-Quads with the suites' own canonize
(``interop/js/direction.mjs``). Like tests/test_interop_js.py they skip without Node.js or
interop/js/node_modules, unless VCCORE_REQUIRE_INTEROP=1 (CI), where they fail instead.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from jsinterop import JS_DIR, JsInterop, available, js_key, requires_js, running_harness

from vccore import Ed25519Key, SafeModeError, canonicalize, sign, verify

pytestmark = requires_js()

KEY = Ed25519Key.from_seed(bytes.fromhex("5c1d7a3e9b0f42c68d2e1f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e"))
JS_KEY = js_key(KEY)
CREATED = "2026-12-02T05:00:00Z"
RDF_SUITES = ["eddsa-rdfc-2022", "Ed25519Signature2020"]


@pytest.fixture(scope="module")
def js() -> Iterator[JsInterop]:
    yield from running_harness()


def credential(direction: str = "rtl") -> dict[str, Any]:
    """A VC 2.0 credential whose subject's name and description carry a base direction."""
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
        "id": "urn:uuid:0b7c3f0e-6a55-4c1e-9d0a-5e2f8c4b7a10",
        "type": ["VerifiableCredential", "ExampleCredential"],
        "issuer": KEY.controller,
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {
            "id": "did:example:subject",
            "name": [
                {"@value": "\u0623\u062d\u0645\u062f \u0639\u0644\u064a", "@language": "ar", "@direction": direction},
                {"@value": "Ahmad Ali", "@language": "en", "@direction": "ltr"},
            ],
            "description": {"@value": "\u05e9\u05dc\u05d5\u05dd", "@direction": direction},
        },
    }


def flipped(document: dict[str, Any]) -> dict[str, Any]:
    """The same document with its first name's direction turned the other way."""
    out = copy.deepcopy(document)
    name = out["credentialSubject"]["name"][0]
    name["@direction"] = "ltr" if name["@direction"] == "rtl" else "rtl"
    return out


def digital_bazaar_nquads(suite: str, documents: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Each document through the suite's own canonize in Digital Bazaar's stack."""
    node = shutil.which("node")
    if node is None or (missing := available()) is not None:
        pytest.fail(f"the JS stack is unavailable: {missing}")
    done = subprocess.run(
        [node, str(JS_DIR / "direction.mjs")],
        input=json.dumps({"suite": suite, "documents": documents}),
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=JS_DIR,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results: list[dict[str, str]] = json.loads(done.stdout)["results"]
    return results


@pytest.mark.parametrize("suite", RDF_SUITES)
def test_the_canonical_form_is_the_one_digital_bazaar_signs(suite: str) -> None:
    documents = [
        credential("rtl"),
        credential("ltr"),
        {**credential(), "name": {"@value": "Mixed CASE", "@language": "EN-us", "@direction": "rtl"}},
    ]
    theirs = digital_bazaar_nquads(suite, documents)
    for document, their in zip(documents, theirs, strict=True):
        ours = canonicalize(document)
        assert their == {"nquads": ours}
    # the direction is signed: the two directions are two canonical forms
    assert theirs[0] != theirs[1]
    assert '"Mixed CASE"^^<https://www.w3.org/ns/i18n#en-us_rtl> .' in theirs[2]["nquads"]


@pytest.mark.parametrize("suite", [*RDF_SUITES, "eddsa-jcs-2022"])
def test_signed_by_vccore_verifies_in_digital_bazaar_and_a_flip_breaks_it(js: JsInterop, suite: str) -> None:
    ours = sign(credential(), KEY, suite=suite, created=CREATED)
    answer = js.call({"op": "verify", "credential": ours})
    assert answer["verified"] is True, answer
    assert verify(ours).verified

    tampered = flipped(ours)
    answer = js.call({"op": "verify", "credential": tampered})
    assert answer["verified"] is False, answer
    assert not verify(tampered).verified


@pytest.mark.parametrize("suite", [*RDF_SUITES, "eddsa-jcs-2022"])
def test_signed_by_digital_bazaar_verifies_in_vccore_and_a_flip_breaks_it(js: JsInterop, suite: str) -> None:
    theirs = js.call({"op": "sign", "suite": suite, "key": JS_KEY, "created": CREATED, "credential": credential()})
    assert "signed" in theirs, theirs
    signed = theirs["signed"]
    result = verify(signed)
    assert result.verified, result
    # the same key and time: the same bytes, the proof value included
    assert sign(credential(), KEY, suite=suite, created=CREATED) == signed

    tampered = flipped(signed)
    assert not verify(tampered).verified
    assert js.call({"op": "verify", "credential": tampered})["verified"] is False


def test_a_suite_that_would_drop_the_direction_still_refuses_it() -> None:
    """The 2018 suites sign what rdf-canonize 1.x writes, with no rdfDirection: a direction would
    be shown and not signed."""
    document = {
        "@context": ["https://www.w3.org/2018/credentials/v1", {"@vocab": "https://vocab.example/"}],
        "id": "urn:uuid:0b7c3f0e-6a55-4c1e-9d0a-5e2f8c4b7a11",
        "type": ["VerifiableCredential"],
        "issuer": KEY.controller,
        "issuanceDate": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:subject", "name": {"@value": "x", "@direction": "rtl"}},
    }
    with pytest.raises(SafeModeError) as caught:
        sign(document, KEY, suite="Ed25519Signature2018", created=CREATED)
    assert caught.value.code == "DATA_LOSS"
    assert caught.value.details["path"] == "credentialSubject.name.@direction"


def test_a_credential_name_with_a_direction_signed_by_digital_bazaar_verifies(js: JsInterop) -> None:
    """The W3C data model suite's case: the credential's own name carries the direction."""
    unsigned = {**credential(), "name": {"@value": "Example", "@language": "en", "@direction": "ltr"}}
    theirs = js.call(
        {"op": "sign", "suite": "eddsa-rdfc-2022", "key": JS_KEY, "created": CREATED, "credential": unsigned}
    )
    assert verify(theirs["signed"]).verified
