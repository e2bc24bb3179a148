"""Ed25519 key encodings against the Multikey / did:key / Digital Bazaar vectors."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from conftest import load_json
from hypothesis import given
from hypothesis import strategies as st

from vccore import (
    Ed25519Key,
    KeyFormatError,
    Signer,
    _multibase,
    did_key_document,
    load_key,
    public_key_from_verification_method,
)

ENCODINGS = load_json("keys/ed25519-key-encodings.json")
MULTIBASE_PAIRS = [k for k in ENCODINGS["keyPairs"] if "publicKeyMultibase" in k]
BASE58_PAIRS = [k for k in ENCODINGS["keyPairs"] if "publicKeyBase58" in k]
DID_KEY_VECTORS = load_json("keys/did-method-key-ed25519-x25519.json")


@pytest.mark.parametrize("pair", MULTIBASE_PAIRS, ids=lambda p: p["name"])
def test_secret_multibase_gives_its_public_key(pair: dict[str, Any]) -> None:
    secret = pair.get("secretKeyMultibase") or pair["privateKeyMultibase"]
    key = Ed25519Key.from_multibase(secret_key_multibase=secret)
    assert key.public_key_multibase == pair["publicKeyMultibase"]
    assert key.did_key == "did:key:" + pair["publicKeyMultibase"]
    # vccore writes the spec's 32-byte seed form; reading it back gives the same key.
    assert key.secret_key_multibase.startswith("z3u2")
    again = Ed25519Key.from_multibase(pair["publicKeyMultibase"], key.secret_key_multibase)
    assert again.public_bytes == key.public_bytes
    if secret.startswith("z3u2"):
        assert key.secret_key_multibase == secret


def test_seed_derived_digitalbazaar_key() -> None:
    pair = next(p for p in ENCODINGS["keyPairs"] if "seedInput" in p)
    seed = pair["seedInput"]["string"].encode("ascii")[:32]  # ASCII bytes, not hex-decoded
    key = Ed25519Key.from_seed(seed, id=pair["expectedId"])
    assert key.public_key_multibase == pair["publicKeyMultibase"]
    assert key.controller == "did:example:1234"
    assert Ed25519Key.from_multibase(secret_key_multibase=pair["privateKeyMultibase"]).public_bytes == key.public_bytes


@pytest.mark.parametrize("pair", BASE58_PAIRS, ids=lambda p: p["id"])
def test_ed25519_2018_base58_keys(pair: dict[str, Any]) -> None:
    secret = _multibase.b58decode(pair["privateKeyBase58"])
    assert len(secret) == 64
    key = Ed25519Key.from_seed(secret[:32])
    assert _multibase.b58encode(key.public_bytes) == pair["publicKeyBase58"]
    assert secret[32:] == key.public_bytes
    method = {
        "id": pair["id"],
        "type": "Ed25519VerificationKey2018",
        "controller": "https://example.edu/issuers/565049",
        "publicKeyBase58": pair["publicKeyBase58"],
    }
    assert public_key_from_verification_method(method).public_bytes == key.public_bytes


@pytest.mark.parametrize("vector", ENCODINGS["rawSignatures"], ids=lambda v: v["name"])
def test_raw_signatures_from_node_and_browser(vector: dict[str, Any]) -> None:
    key = Ed25519Key.from_multibase(vector["key"]["publicKeyMultibase"])
    signature = _multibase.b58decode(vector["signatureBase58"])
    assert key.verify(signature, vector["data"].encode("utf-8"))
    assert not key.verify(signature, vector["data"].encode("utf-8") + b"!")
    signer = Ed25519Key.from_multibase(secret_key_multibase=vector["key"]["privateKeyMultibase"])
    assert signer.sign(vector["data"].encode("utf-8")) == signature  # Ed25519 is deterministic


@pytest.mark.parametrize("did", sorted(DID_KEY_VECTORS), ids=lambda d: d[-8:])
def test_did_key_from_seed(did: str) -> None:
    vector = DID_KEY_VECTORS[did]
    key = Ed25519Key.from_seed(bytes.fromhex(vector["seed"]))
    assert key.did_key == did
    assert key.id == f"{did}#{did[len('did:key:') :]}"
    method = dict(vector["verificationKeyPair"])
    method.pop("privateKeyJwk", None)
    method["id"] = key.id
    assert public_key_from_verification_method(method).public_bytes == key.public_bytes
    if "privateKeyJwk" in vector["verificationKeyPair"]:
        assert Ed25519Key.from_jwk(vector["verificationKeyPair"]["privateKeyJwk"]).sign(b"m") == key.sign(b"m")


def test_did_key_document_matches_the_spec_example() -> None:
    example = ENCODINGS["didKeySpecExampleDocument"]["document"]
    document = did_key_document(example["id"])
    assert document["id"] == example["id"]
    assert document["verificationMethod"] == [example["verificationMethod"][0]]
    for relationship in ("authentication", "assertionMethod", "capabilityDelegation", "capabilityInvocation"):
        assert document[relationship] == example[relationship]
    # DID URL of its verification method resolves to the same document
    assert did_key_document(example["verificationMethod"][0]["id"]) == document


@pytest.mark.parametrize(
    "did",
    [
        "did:key:z6LSj72tK8brWgZja8NLRwPigth2T9QRiG1uH9oKZuKjdh9p",  # X25519, not Ed25519
        "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2do",  # truncated
        "did:key:z0OIl",  # not base58btc
        "did:key:f6MkhaX",  # other multibase
        "did:web:example.com",
        "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK#z6MkOther",
    ],
)
def test_bad_did_keys_are_refused(did: str) -> None:
    with pytest.raises(KeyFormatError):
        did_key_document(did)


def test_jwk_vector_round_trip() -> None:
    jwk = ENCODINGS["jwk"]["publicKeyJwk"]
    key = Ed25519Key.from_jwk(jwk)
    assert key.to_jwk() == jwk
    assert (
        public_key_from_verification_method({"id": "urn:k", "controller": "urn:c", "publicKeyJwk": jwk}).public_bytes
        == key.public_bytes
    )


def test_every_encoding_round_trips() -> None:
    key = Ed25519Key.generate()
    assert isinstance(key, Signer)
    for other in (
        Ed25519Key.from_multikey(key.to_multikey(include_secret=True)),
        Ed25519Key.from_jwk(key.to_jwk(include_secret=True)),
        Ed25519Key.from_pem(key.to_pem(include_secret=True)),
    ):
        assert other.has_secret and other.public_bytes == key.public_bytes
        assert other.sign(b"x") == key.sign(b"x")
    for public in (
        Ed25519Key.from_multikey(key.to_multikey()),
        Ed25519Key.from_jwk(key.to_jwk()),
        Ed25519Key.from_pem(key.to_pem()),
    ):
        assert not public.has_secret and public.public_bytes == key.public_bytes
        assert public.verify(key.sign(b"x"), b"x")
        with pytest.raises(KeyFormatError):
            public.sign(b"x")


def test_key_file_is_private_and_loads(tmp_path: Path) -> None:
    key = Ed25519Key.generate()
    path = key.write(tmp_path / "key.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    data = json.loads(path.read_text())
    assert {"publicKeyMultibase", "secretKeyMultibase", "id", "controller"} <= set(data)
    assert load_key(path).sign(b"m") == key.sign(b"m")
    with pytest.raises(FileExistsError):
        key.write(path)  # never overwrites a key


def test_load_key_reads_jwk_and_pem(tmp_path: Path) -> None:
    key = Ed25519Key.generate()
    (tmp_path / "k.jwk").write_text(json.dumps(key.to_jwk(include_secret=True)))
    (tmp_path / "k.pem").write_bytes(key.to_pem(include_secret=True))
    assert load_key(tmp_path / "k.jwk").public_bytes == key.public_bytes
    assert load_key(tmp_path / "k.pem").public_bytes == key.public_bytes


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (
            {
                "publicKeyMultibase": "z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
                "secretKeyMultibase": "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq",
            },
            "publicKeyMultibase",
        ),
        ({"secretKeyMultibase": "z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"}, "secretKeyMultibase"),
        ({"secretKeyMultibase": "z3u2"}, "secretKeyMultibase"),
        ({"publicKeyMultibase": 42}, "publicKeyMultibase"),
        ({}, "publicKeyMultibase"),
        ({"publicKeyMultibase": "zIIII"}, "publicKeyMultibase"),
    ],
)
def test_bad_multikeys_name_the_field(document: dict[str, Any], field: str) -> None:
    with pytest.raises(KeyFormatError) as caught:
        Ed25519Key.from_multikey(document)
    assert caught.value.details["field"] == field


def test_bad_key_files(tmp_path: Path) -> None:
    (tmp_path / "junk").write_bytes(b"\x00\x01")
    with pytest.raises(KeyFormatError):
        load_key(tmp_path / "junk")
    with pytest.raises(KeyFormatError):
        load_key(tmp_path / "missing.json")
    with pytest.raises(KeyFormatError):
        Ed25519Key.from_jwk({"kty": "EC", "crv": "P-256", "x": "AA"})


@given(st.binary(max_size=80))
def test_base58_round_trip(data: bytes) -> None:
    assert _multibase.b58decode(_multibase.b58encode(data)) == data
    assert _multibase.decode(_multibase.encode(data, "u")) == data


_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@given(st.text(alphabet=_BASE58, max_size=130), st.one_of(st.none(), st.tuples(st.integers(0, 130), st.characters())))
def test_base58_decode_agrees_with_the_digit_by_digit_definition(text: str, insert: tuple[int, str] | None) -> None:
    """Any text, canonical or not (leading "1"s, any length), decodes as the plain definition
    says; a character outside the alphabet anywhere is named."""
    if insert is not None and insert[1] not in _BASE58:
        bad = text[: insert[0]] + insert[1] + text[insert[0] :]
        with pytest.raises(ValueError, match=re.escape(repr(insert[1]))):
            _multibase.b58decode(bad)
        return
    number = 0
    for char in text:
        number = number * 58 + _BASE58.index(char)
    zeros = len(text) - len(text.lstrip("1"))
    assert _multibase.b58decode(text) == b"\0" * zeros + (
        number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    )


# --- encrypted key files -------------------------------------------------------------------------


def test_an_encrypted_key_file_opens_with_its_passphrase_only(tmp_path: Path) -> None:
    key = Ed25519Key.generate()
    path = key.write(tmp_path / "key.json", passphrase="correct horse")
    document = json.loads(path.read_text())
    assert "secretKeyMultibase" not in document and document["encryptedSecretKey"]["kdf"] == "scrypt"
    assert key.secret_key_multibase not in path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    opened = load_key(path, passphrase="correct horse")
    assert opened == key and opened.sign(b"x") == key.sign(b"x")
    with pytest.raises(KeyFormatError) as caught:
        load_key(path)
    assert caught.value.code == "KEY_PASSPHRASE_REQUIRED"
    with pytest.raises(KeyFormatError) as caught:
        load_key(path, passphrase="wrong horse")
    assert caught.value.code == "KEY_PASSPHRASE_WRONG"


def test_an_encrypted_secret_is_bound_to_its_key(tmp_path: Path) -> None:
    first = json.loads(Ed25519Key.generate().write(tmp_path / "a.json", passphrase="p").read_text())
    second = json.loads(Ed25519Key.generate().write(tmp_path / "b.json", passphrase="p").read_text())
    swapped = {**second, "encryptedSecretKey": first["encryptedSecretKey"]}
    (tmp_path / "swapped.json").write_text(json.dumps(swapped))
    with pytest.raises(KeyFormatError, match="does not open"):
        load_key(tmp_path / "swapped.json", passphrase="p")
    tampered = json.loads(json.dumps(first))
    ciphertext = tampered["encryptedSecretKey"]["ciphertext"]
    tampered["encryptedSecretKey"]["ciphertext"] = ("A" if ciphertext[0] != "A" else "B") + ciphertext[1:]
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    with pytest.raises(KeyFormatError, match="does not open"):
        load_key(tmp_path / "tampered.json", passphrase="p")


@pytest.mark.parametrize(
    "change",
    [{"kdf": "pbkdf2"}, {"cipher": "AES-128-CBC"}, {"n": 1 << 30}, {"r": 0}, {"salt": "!!"}, {"nonce": None}],
)
def test_encrypted_key_files_vccore_cannot_read_are_refused(tmp_path: Path, change: dict[str, Any]) -> None:
    document = json.loads(Ed25519Key.generate().write(tmp_path / "k.json", passphrase="p").read_text())
    document["encryptedSecretKey"].update(change)
    (tmp_path / "bad.json").write_text(json.dumps(document))
    with pytest.raises(KeyFormatError) as caught:
        load_key(tmp_path / "bad.json", passphrase="p")
    assert caught.value.details["field"] == "encryptedSecretKey"


def test_the_cli_takes_the_passphrase_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from vccore.cli import main

    monkeypatch.delenv("VCCORE_KEY_PASSPHRASE", raising=False)
    assert main(["keygen", "--out", str(tmp_path / "plain"), "--encrypt"]) == 2  # no terminal, no variable
    assert "--encrypt needs a passphrase" in capsys.readouterr().err
    monkeypatch.setenv("VCCORE_KEY_PASSPHRASE", "s3cret passphrase")
    assert main(["keygen", "--out", str(tmp_path / "enc"), "--encrypt"]) == 0
    assert "secret encrypted" in capsys.readouterr().err
    key_path = tmp_path / "enc" / "key.json"
    assert "encryptedSecretKey" in key_path.read_text()
    payload = tmp_path / "payload.json"
    example = json.loads(
        (Path(__file__).parent.parent / "templates/HealthProfessional/example-payload.json").read_text()
    )
    payload.write_text(json.dumps(example))
    out = tmp_path / "cred.json"
    assert main(["issue", "HealthProfessional", str(payload), "--key", str(key_path), "-o", str(out)]) == 0
    assert json.loads(out.read_text())["issuer"]["id"] == json.loads(key_path.read_text())["controller"]
    monkeypatch.delenv("VCCORE_KEY_PASSPHRASE")
    assert (
        main(["issue", "HealthProfessional", str(payload), "--key", str(key_path), "-o", str(tmp_path / "x.json")]) == 2
    )
    assert "is encrypted: set VCCORE_KEY_PASSPHRASE" in capsys.readouterr().err


def test_rotating_a_did_web_key_keeps_what_the_old_key_signed_verifiable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from vccore import Verifier, bundled_entity_types
    from vccore.cli import main
    from vccore.issuer import Issuer
    from vccore.store import SQLiteStore

    monkeypatch.delenv("VCCORE_KEY_PASSPHRASE", raising=False)
    hp, now = bundled_entity_types()["HealthProfessional"], datetime(2024, 1, 1, tzinfo=UTC)
    assert hp.example is not None
    folder = tmp_path / "issuer"
    assert main(["keygen", "--out", str(folder), "--did-web", "issuer.example"]) == 0
    first = load_key(folder / "key.json")
    store_path = tmp_path / "store.db"
    old = (
        Issuer(signer=first, store=SQLiteStore(store_path, status_url="https://issuer.example/status/"))
        .certify(hp, hp.example, now=now)
        .credential
    )
    assert main(["keygen", "--out", str(folder), "--rotate"]) == 0
    assert "signs from now on" in capsys.readouterr().err
    second = load_key(folder / "key.json")
    assert (
        second.controller == first.controller == "did:web:issuer.example"
        and second.id == "did:web:issuer.example#key-2"
    )
    assert load_key(folder / "key-1.retired.json") == first
    issuer = Issuer(signer=second, store=SQLiteStore(store_path))  # the same issuer: the store takes it
    new = issuer.certify(hp, {**hp.example, "certificateId": "after-rotation"}, now=now).credential
    assert new["proof"]["verificationMethod"] == second.id
    published = json.loads((folder / "did.json").read_text())
    assert published["authentication"] == [second.id] and published["assertionMethod"] == [second.id, first.id]
    verifier = Verifier.create(verification_methods=[published], status=issuer.status_list_credentials(now=now))
    assert verifier.verify(old, now=now).verified and verifier.verify(new, now=now).verified
    # a third key lists all three; the first is still there for what it signed
    assert main(["keygen", "--out", str(folder), "--rotate"]) == 0
    again = json.loads((folder / "did.json").read_text())
    assert [m["id"].rsplit("#", 1)[1] for m in again["verificationMethod"]] == ["key-3", "key-2", "key-1"]
    assert "secretKeyMultibase" not in json.dumps(again)
    # a did:key cannot be rotated: its key is its name
    assert main(["keygen", "--out", str(tmp_path / "plain")]) == 0
    assert main(["keygen", "--out", str(tmp_path / "plain"), "--rotate"]) == 1
    assert "rotation needs a did:web key" in capsys.readouterr().err


@given(seed=st.binary(min_size=32, max_size=32), data=st.binary(max_size=200))
def test_a_signature_is_openssls_byte_for_byte(seed: bytes, data: bytes) -> None:
    """Ed25519Key.sign runs libsodium when PyNaCl is there; Ed25519 is deterministic, so its
    signature is OpenSSL's, byte for byte, and verifies under both."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from vccore import _ed25519

    key = Ed25519Key.from_seed(seed)
    signature = key.sign(data)
    assert signature == Ed25519PrivateKey.from_private_bytes(seed).sign(data)
    assert _ed25519.signer(seed, key.public_bytes) is not None  # libsodium did sign (PyNaCl is a dependency)
    for backend in ("libsodium", "openssl"):
        assert _ed25519.raw_verify(backend, key.public_bytes, signature, data)
