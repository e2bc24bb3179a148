"""Bitstring Status List: decoding against the spec and Digital Bazaar's lists, entries, credentials."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import load_json
from hypothesis import given
from hypothesis import strategies as st

from vccore import canonicalize
from vccore.status import MIN_LIST_LENGTH, Bitstring, StatusError, status_entry, status_list_credential

LISTS = load_json("status-list/encoded-lists.json")["lists"]


@pytest.mark.parametrize("vector", LISTS, ids=lambda v: v["name"])
def test_encoded_lists_decode_to_their_bits(vector: dict[str, Any]) -> None:
    decoded = vector["decoded"]
    bits = Bitstring.decode(vector["encodedList"], multibase=decoded["multibasePrefixU"])
    assert bits.length == decoded["bitLength"] and len(bits.data) == decoded["byteLength"]
    assert bits.set_indices() == decoded["setIndicesMsbFirst"]
    for index in decoded["setIndicesMsbFirst"]:
        assert bits.get(index) == 1
    # a round trip through vccore's own encoder keeps every bit
    assert Bitstring.decode(bits.encode()) == bits


def test_spec_example_credential_is_the_minimum_empty_list() -> None:
    credential = load_json("status-list/bitstring-status-list-spec/example5-status-list-credential.json")
    bits = Bitstring.decode(credential["credentialSubject"]["encodedList"])
    assert bits.length == MIN_LIST_LENGTH and bits.set_indices() == []


def test_legacy_test_suite_fixtures() -> None:
    folder = "status-list/w3c-test-suite-legacy"
    single = load_json(f"{folder}/status-credentials/single-purpose-ok.jsonld")
    bits = Bitstring.decode(single["credentialSubject"]["encodedList"], multibase=False)
    revoked = load_json(f"{folder}/should-be-revoked.jsonld")["credentialStatus"]
    assert bits.get(int(revoked["statusListIndex"])) == 1
    assert bits.get(1) == 0
    short = load_json(f"{folder}/status-credentials/short-encoded-list-fail.jsonld")
    assert Bitstring.decode(short["credentialSubject"]["encodedList"], multibase=False).length < MIN_LIST_LENGTH


@pytest.mark.parametrize(
    "text", ["", "H4sIAAAA", "u!!!!", "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAA", 5, None, "u" + "A" * 40]
)
def test_bad_encoded_lists_are_errors(text: Any) -> None:
    with pytest.raises(StatusError):
        Bitstring.decode(text)


def test_a_gzip_bomb_is_refused() -> None:
    import gzip

    from vccore import _multibase

    bomb = "u" + _multibase.b64url_encode(gzip.compress(bytes(2**24 + 1)))
    with pytest.raises(StatusError) as caught:
        Bitstring.decode(bomb)
    assert caught.value.code == "STATUS_LIST_LENGTH_ERROR"


@given(st.dictionaries(st.integers(0, 1023), st.integers(0, 3)), st.sampled_from([1, 2]))
def test_values_round_trip(values: dict[int, int], size: int) -> None:
    values = {i: v % (2**size) for i, v in values.items()}
    bits = Bitstring.zeros(1024 * size).with_values(values, size=size)
    decoded = Bitstring.decode(bits.encode())
    for index in range(1024):
        assert decoded.get(index, size) == values.get(index, 0)
    assert decoded.set_indices(size) == sorted(i for i, v in values.items() if v)


@given(st.binary(min_size=1, max_size=64), st.sampled_from([1, 2, 3, 4, 8]))
def test_get_reads_each_entry_most_significant_bit_first(data: bytes, size: int) -> None:
    bits = Bitstring(data, len(data) * 8)
    as_text = "".join(f"{byte:08b}" for byte in data)  # bit 0 is the first byte's highest
    entries = len(as_text) // size
    for index in range(entries):
        assert bits.get(index, size) == int(as_text[index * size : index * size + size], 2)
    for outside in (entries, -1):
        with pytest.raises(StatusError):
            bits.get(outside, size)


def test_index_zero_is_the_most_significant_bit() -> None:
    assert Bitstring.zeros(16).with_values({0: 1}).data == b"\x80\x00"
    assert Bitstring.zeros(16).with_values({7: 1, 8: 1}).data == b"\x01\x80"
    assert Bitstring.zeros(16).with_values({1: 2}, size=2).data == b"\x20\x00"


def test_entries_and_list_credentials_are_defined_terms() -> None:
    url = "https://issuer.example/status/0/message"
    entry = status_entry(url, 42, "message")
    assert entry["statusSize"] == 1 and entry["statusListIndex"] == "42"
    assert entry["statusMessage"] == [
        {"status": "0x0", "message": "not superseded"},
        {"status": "0x1", "message": "superseded"},
    ]
    credential = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": "did:example:issuer",
        "credentialSubject": {"id": "did:example:s"},
        "credentialStatus": [
            status_entry(url.replace("message", p), 42, p) for p in ("revocation", "suspension", "message")
        ],
    }
    assert '"42"' in canonicalize(credential)
    suspended = status_list_credential(
        "https://issuer.example/status/0/suspension",
        issuer="did:example:issuer",
        purpose="suspension",
        bits=Bitstring.zeros(MIN_LIST_LENGTH).with_values({42: 1}),
        valid_from="2026-01-01T00:00:00Z",
        suspensions={42: "2026-02-01T00:00:00Z"},
    )
    assert '"2026-02-01T00:00:00Z"^^<http://www.w3.org/2001/XMLSchema#dateTime>' in canonicalize(suspended)
