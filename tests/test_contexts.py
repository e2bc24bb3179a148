from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from vccore import ContextError, ContextLoader, bundled_contexts, canonicalize

ROOT = Path(__file__).resolve().parent.parent
CREDENTIAL_URLS = [
    "https://www.w3.org/2018/credentials/v1",
    "https://www.w3.org/ns/credentials/v2",
    "https://w3id.org/security/data-integrity/v2",
    "https://w3id.org/security/multikey/v1",
    "https://w3id.org/security/suites/ed25519-2020/v1",
    "https://w3id.org/security/suites/ed25519-2018/v1",
    "https://w3id.org/security/v1",
    "https://w3id.org/security/v2",
    "https://www.w3.org/ns/credentials/status/v1",
    "https://w3id.org/vc/status-list/2021/v1",
    "https://www.w3.org/ns/did/v1",
    "https://www.w3.org/ns/credentials/examples/v2",
]


def test_every_bundled_context_matches_its_pin() -> None:
    index = json.loads((ROOT / "contexts" / "index.json").read_text())
    loader = bundled_contexts()
    for url, entry in index.items():
        data = loader.read_bytes(url)
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], url
        assert "@context" in loader.document(url)
    assert set(CREDENTIAL_URLS) <= set(loader.urls())


def test_published_digests_of_the_recommendations() -> None:
    # Digests printed in the W3C Recommendations (VCDM 2.0, Bitstring Status List, Data Integrity).
    loader = bundled_contexts()
    expected = {
        "https://www.w3.org/ns/credentials/v2": "59955ced6697d61e03f2b2556febe5308ab16842846f5b586d7f1f7adec92734",
        "https://www.w3.org/ns/credentials/status/v1": "fda5add353231e6a6884a46b12e6c75464281900cb348284d9c360f62381d9f7",
        "https://w3id.org/security/data-integrity/v2": "67f21e6e33a6c14e5ccfd2fc7865f7474fb71a04af7e94136cb399dfac8ae8f4",
        "https://w3id.org/security/multikey/v1": "ba2c182de2d92f7e47184bcca8fcf0beaee6d3986c527bf664c195bbc7c58597",
    }
    for url, digest in expected.items():
        assert hashlib.sha256(loader.read_bytes(url)).hexdigest() == digest


def test_alias_serves_the_same_bytes() -> None:
    loader = bundled_contexts()
    assert loader.read_bytes("https://w3id.org/did/v1") == loader.read_bytes("https://www.w3.org/ns/did/v1")


def test_unknown_url_is_refused_by_name() -> None:
    url = "https://example.com/never-pinned/v1"
    with pytest.raises(ContextError) as caught:
        bundled_contexts().read_bytes(url)
    assert caught.value.code == "UNKNOWN_CONTEXT"
    assert caught.value.details["url"] == url
    assert url in caught.value.message


def test_unknown_context_in_a_document_names_the_url() -> None:
    url = "https://evil.example/context.jsonld"
    document = {"@context": ["https://www.w3.org/ns/credentials/v2", url], "type": "VerifiableCredential"}
    with pytest.raises(ContextError) as caught:
        canonicalize(document)
    assert caught.value.code == "UNKNOWN_CONTEXT"
    assert caught.value.details["url"] == url


def test_tampered_file_fails_its_digest(tmp_path: Path) -> None:
    copy = tmp_path / "contexts"
    shutil.copytree(ROOT / "contexts", copy)
    target = copy / "credentials-v2.jsonld"
    target.write_bytes(target.read_bytes().replace(b"VerifiableCredential", b"VerifiableCredentiaI", 1))
    loader = ContextLoader.from_directory(copy)
    loader.read_bytes("https://www.w3.org/2018/credentials/v1")  # untouched files still load
    with pytest.raises(ContextError) as caught:
        loader.read_bytes("https://www.w3.org/ns/credentials/v2")
    assert caught.value.code == "CONTEXT_DIGEST_MISMATCH"
    assert caught.value.details["url"] == "https://www.w3.org/ns/credentials/v2"


def _custom_context(term_iri: str) -> bytes:
    return json.dumps({"@context": {"@protected": True, "favouriteColour": term_iri}}).encode()


def test_caller_contexts_are_scoped_to_their_loader() -> None:
    url = "https://contexts.example/colour/v1"
    document = {
        "@context": ["https://www.w3.org/ns/credentials/v2", url],
        "id": "urn:uuid:1",
        "favouriteColour": "blue",
    }
    first = bundled_contexts().with_contexts({url: _custom_context("https://a.example/colour")})
    second = bundled_contexts().with_contexts({url: _custom_context("https://b.example/colour")})
    # Same URL, different bytes, two loaders: each sees its own (pyld's process-wide cache is not used).
    assert "<https://a.example/colour>" in canonicalize(document, contexts=first)
    assert "<https://b.example/colour>" in canonicalize(document, contexts=second)
    assert "<https://a.example/colour>" in canonicalize(document, contexts=first)
    assert url not in bundled_contexts()
    with pytest.raises(ContextError):
        canonicalize(document)


def test_a_pinned_url_cannot_be_given_other_bytes() -> None:
    url = "https://www.w3.org/ns/credentials/v2"
    with pytest.raises(ContextError) as caught:
        bundled_contexts().with_contexts({url: b'{"@context": {}}'})
    assert caught.value.code == "CONTEXT_DIGEST_MISMATCH"
    same = bundled_contexts().read_bytes(url)
    assert url in bundled_contexts().with_contexts({url: same})


@pytest.mark.parametrize("data", [b"not json", b"[1, 2]", b'{"no": "context"}'])
def test_caller_context_must_be_a_context(data: bytes) -> None:
    with pytest.raises(ContextError) as caught:
        bundled_contexts().with_contexts({"https://x.example/c": data})
    assert caught.value.code == "INVALID_CONTEXT"


def test_export_round_trips(tmp_path: Path) -> None:
    url = "https://contexts.example/colour/v1"
    loader = bundled_contexts().with_contexts({url: _custom_context("https://a.example/colour")})
    urls = loader.export(tmp_path)
    assert url in urls
    again = ContextLoader.from_directory(tmp_path)
    for each in urls:
        assert again.read_bytes(each) == loader.read_bytes(each)
    assert again.read_bytes("https://w3id.org/did/v1") == loader.read_bytes("https://www.w3.org/ns/did/v1")
