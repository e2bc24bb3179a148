"""Ed25519's edge cases: one verdict per published vector, the same with libsodium and with OpenSSL.

The vector sets (tests/vectors/ed25519/SOURCE.md): "Taming the many EdDSAs" (ed25519-speccheck's 12
cases), C2SP/CCTV's 914 point edge cases, and Project Wycheproof's 151 (RFC 8032's section 7.1
tests among them). Each case is checked through each library in turn; without vccore's checks
before the library, OpenSSL accepts cases libsodium refuses (docs/internals.md, "Ed25519 verdicts").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any, get_args

import nacl.bindings
import pytest
from conftest import load_json
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import example, given
from hypothesis import strategies as st

from vccore import Ed25519Key, _ed25519
from vccore._ed25519 import Backend, L, P, Point, Refusal

BACKENDS: tuple[Backend, ...] = get_args(Backend)
SPECCHECK = load_json("ed25519/speccheck-cases.json")
CCTV = load_json("ed25519/cctv-ed25519vectors.json")
WYCHEPROOF = load_json("ed25519/wycheproof-ed25519_test.json")

# vccore's verdict on each of the 12 cases of "Taming the many EdDSAs" (table 5 of the paper, the
# README of ed25519-speccheck): every one refused, each for the reason named.
SPECCHECK_REFUSALS = [
    Refusal.R_SMALL_ORDER,  # 0: S = 0, small A and small R
    Refusal.A_SMALL_ORDER,  # 1: small A, mixed R
    Refusal.R_SMALL_ORDER,  # 2: mixed A, small R
    Refusal.A_MIXED_ORDER,  # 3: mixed A and R, passes both equations
    Refusal.A_MIXED_ORDER,  # 4: passes the cofactored equation only
    Refusal.A_MIXED_ORDER,  # 5: passes the cofactored equation only, without pre-reduction
    Refusal.S_NOT_BELOW_L,  # 6: S > L
    Refusal.S_NOT_BELOW_L,  # 7: S >> L
    Refusal.R_NOT_CANONICAL,  # 8: non-canonical R (x = -0), reduced for the hash
    Refusal.R_NOT_CANONICAL,  # 9: the same, not reduced for the hash
    Refusal.A_NOT_A_POINT,  # 10: non-canonical A (y >= p), reduced for the hash
    Refusal.A_NOT_A_POINT,  # 11: the same, not reduced for the hash
]


def _cctv_refusal(flags: list[str]) -> Refusal | None:
    """The reason vccore gives for a CCTV vector, read off its flags (the checks run in this order)."""
    for flag, reason in (
        ("non_canonical_R", Refusal.R_NOT_CANONICAL),
        ("low_order_R", Refusal.R_SMALL_ORDER),
        ("non_canonical_A", Refusal.A_NOT_A_POINT),
        ("low_order_A", Refusal.A_SMALL_ORDER),
        ("low_order_component_A", Refusal.A_MIXED_ORDER),
    ):
        if flag in flags:
            return reason
    return None  # a mixed-order R under a good key: the equation itself refuses it, in both libraries


def _cases() -> Iterator[tuple[str, bytes, bytes, bytes, bool, Refusal | None]]:
    """(name, public key, signature, message, vccore's verdict, vccore's reason) for every vector."""
    for number, case in enumerate(SPECCHECK):
        yield (
            f"speccheck {number}",
            bytes.fromhex(case["pub_key"]),
            bytes.fromhex(case["signature"]),
            bytes.fromhex(case["message"]),
            False,
            SPECCHECK_REFUSALS[number],
        )
    for case in CCTV:
        flags = case["flags"] or []
        key, signature = bytes.fromhex(case["key"]), bytes.fromhex(case["sig"])
        yield f"cctv {case['number']}", key, signature, case["msg"].encode(), not flags, _cctv_refusal(flags)
    for group in WYCHEPROOF["testGroups"]:
        key = bytes.fromhex(group["publicKey"]["pk"])
        for test in group["tests"]:
            signature = bytes.fromhex(test["sig"])
            reason = _ed25519.refusal(key, signature)  # Wycheproof names no reason: only the verdict is its
            yield (
                f"wycheproof {test['tcId']}",
                key,
                signature,
                bytes.fromhex(test["msg"]),
                test["result"] == "valid",
                reason,
            )


CASES = list(_cases())


def test_the_vector_sets_are_whole() -> None:
    assert (len(SPECCHECK), len(CCTV), WYCHEPROOF["numberOfTests"]) == (12, 914, 151)
    assert len(CASES) == 12 + 914 + 151


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_vector_has_one_verdict_whichever_library_checks_it(backend: Backend) -> None:
    wrong = [
        name
        for name, key, signature, message, verdict, _ in CASES
        if _ed25519.verify(key, signature, message, backend=backend) is not verdict
    ]
    assert wrong == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_vector_has_one_verdict_through_the_key(backend: Backend) -> None:
    """The same, through Ed25519Key.verify (what every suite calls) with the library forced."""
    wrong = []
    with _ed25519.forced_backend(backend):
        for name, key, signature, message, verdict, _ in CASES:
            if Ed25519Key.from_public_bytes(key).verify(signature, message) is not verdict:
                wrong.append(name)
    assert wrong == []


def test_each_refused_vector_is_refused_for_its_reason() -> None:
    wrong = [
        (name, _ed25519.refusal(key, signature), reason)
        for name, key, signature, _, _, reason in CASES
        if _ed25519.refusal(key, signature) is not reason
    ]
    assert wrong == []
    # and no check refuses a signature a set calls valid (Wycheproof's 88 among them)
    assert [name for name, *_, verdict, reason in CASES if verdict and reason is not None] == []
    assert sum(verdict for *_, verdict, _ in CASES) == 89


def test_rfc_8032_section_7_1_tests_verify() -> None:
    """Wycheproof's tcId 80-83 are RFC 8032's TEST 1, 2, 3 and 1024 (from its draft)."""
    rfc = [case for case in CASES if case[0] in {"wycheproof 80", "wycheproof 81", "wycheproof 82", "wycheproof 83"}]
    assert [key.hex()[:8] for _, key, *_ in rfc] == ["d75a9801", "3d4017c3", "fc51cd8e", "278117fc"]
    for backend in BACKENDS:
        assert all(_ed25519.verify(key, sig, msg, backend=backend) for _, key, sig, msg, *_ in rfc)


# --- the arithmetic the checks stand on -----------------------------------------------------------

_B = _ed25519.decode_point(bytes.fromhex("58" + "66" * 31))
assert _B is not None
BASE: Point = _B


def _encode(point: Point) -> bytes:
    x, y, z, _ = point
    inverse = pow(z, P - 2, P)
    x, y = x * inverse % P, y * inverse % P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def _secret_scalar(seed: bytes) -> int:
    digest = bytearray(hashlib.sha512(seed).digest()[:32])
    digest[0] &= 248
    digest[31] = (digest[31] & 127) | 64
    return int.from_bytes(digest, "little")


def test_the_small_order_list_is_the_whole_torsion_subgroup() -> None:
    points = {enc: _ed25519.decode_point(enc) for enc in _ed25519.SMALL_ORDER_ENCODINGS}
    canonical = {_encode(point) for point in points.values() if point is not None}
    assert len(canonical) == 8  # E[8] has eight points: each canonical encoding is listed
    assert canonical <= _ed25519.SMALL_ORDER_ENCODINGS
    for point in points.values():
        assert point is None or _ed25519.is_identity(_ed25519.multiply(8, point))


@given(st.binary(min_size=32, max_size=32))
def test_the_python_arithmetic_gives_the_libraries_public_keys(seed: bytes) -> None:
    public = Ed25519Key.from_seed(seed).public_bytes
    assert _encode(_ed25519.multiply(_secret_scalar(seed), BASE)) == public
    assert _ed25519.key_refusal(public) is None


# --- random signatures: the same verdict from both libraries --------------------------------------


@given(st.binary(min_size=32, max_size=32), st.binary(max_size=200))
def test_a_good_signature_verifies_with_both_libraries(seed: bytes, message: bytes) -> None:
    key = Ed25519Key.from_seed(seed)
    signature = key.sign(message)
    for backend in BACKENDS:
        with _ed25519.forced_backend(backend):
            assert key.verify(signature, message)


@given(
    st.binary(min_size=32, max_size=32),
    st.binary(max_size=200),
    st.sampled_from(["signature", "message", "key"]),
    st.integers(min_value=0),
)
def test_a_flipped_bit_is_refused_by_both_libraries(seed: bytes, message: bytes, where: str, bit: int) -> None:
    private = Ed25519PrivateKey.from_private_bytes(seed)
    signature, key = private.sign(message), Ed25519Key.from_seed(seed).public_bytes
    parts = {"signature": signature, "message": message or b"\x00", "key": key}
    flipped = bytearray(parts[where])
    flipped[bit // 8 % len(flipped)] ^= 1 << bit % 8
    parts[where] = bytes(flipped)
    for backend in BACKENDS:
        assert not _ed25519.verify(parts["key"], parts["signature"], parts["message"], backend=backend)


_TORSION = [p for enc in sorted(_ed25519.SMALL_ORDER_ENCODINGS) if (p := _ed25519.decode_point(enc)) is not None]


def _crafted(seed: bytes, message: bytes, key_torsion: int, r_torsion: int, nonce: int) -> tuple[bytes, bytes]:
    """A key [a]B + T and a signature (R = [r]B + T', S = r + k a) that a lenient check may take."""
    a = _secret_scalar(seed)
    public = _encode(_ed25519.add(_ed25519.multiply(a, BASE), _TORSION[key_torsion]))
    r = nonce % (L - 1) + 1  # never 0: R = T' alone is the small-order case, tested on its own
    big_r = _encode(_ed25519.add(_ed25519.multiply(r, BASE), _TORSION[r_torsion]))
    k = int.from_bytes(hashlib.sha512(big_r + public + message).digest(), "little") % L
    return public, big_r + ((r + k * a) % L).to_bytes(32, "little")


_IDENTITY = next(i for i, point in enumerate(_TORSION) if _ed25519.is_identity(point))


@example(bytes(32), b"", _IDENTITY, _IDENTITY, 1)  # no torsion: the honest signature, accepted
@example(bytes(32), b"", _IDENTITY, (_IDENTITY + 1) % len(_TORSION), 1)  # mixed R: the equation refuses
@given(
    st.binary(min_size=32, max_size=32),
    st.binary(max_size=64),
    st.integers(0, len(_TORSION) - 1),
    st.integers(0, len(_TORSION) - 1),
    st.integers(min_value=0, max_value=2**256),
)
def test_crafted_torsion_gets_one_verdict(seed: bytes, message: bytes, key_t: int, r_t: int, nonce: int) -> None:
    """Keys and R with small-order parts, as an attacker makes them: a refusal from both libraries."""
    public, signature = _crafted(seed, message, key_t, r_t, nonce)
    verdicts = {_ed25519.verify(public, signature, message, backend=backend) for backend in BACKENDS}
    small = _ed25519.is_identity(_TORSION[key_t]) and _ed25519.is_identity(_TORSION[r_t])
    assert verdicts == {small}  # only the honest case (no torsion at all) verifies


def test_an_honest_key_with_the_identity_as_r_is_refused_by_both() -> None:
    """S = k a with R the identity satisfies the equation: OpenSSL alone takes it; vccore refuses it."""
    seed = bytes(range(32))
    key = Ed25519Key.from_seed(seed)
    identity = (1).to_bytes(32, "little")
    k = int.from_bytes(hashlib.sha512(identity + key.public_bytes + b"m").digest(), "little") % L
    signature = identity + (k * _secret_scalar(seed) % L).to_bytes(32, "little")
    assert _ed25519.refusal(key.public_bytes, signature) is Refusal.R_SMALL_ORDER
    for backend in BACKENDS:
        with _ed25519.forced_backend(backend):
            assert not key.verify(signature, b"m")


# --- which library runs ----------------------------------------------------------------------------


def test_libsodium_is_the_default_where_pynacl_is_installed() -> None:
    assert nacl.bindings.crypto_sign_BYTES == 64
    assert _ed25519.default_backend() == "libsodium"


def test_without_pynacl_openssl_gives_the_same_verdicts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_ed25519, "_libsodium", lambda: None)
    assert _ed25519.default_backend() == "openssl"
    with pytest.raises(RuntimeError, match="PyNaCl"), _ed25519.forced_backend("libsodium"):
        pass
    wrong = [name for name, key, sig, msg, verdict, _ in CASES if _ed25519.verify(key, sig, msg) is not verdict]
    assert wrong == []


def test_a_forced_library_is_the_one_called(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = nacl.bindings.crypto_sign_open

    def spy(signed: bytes, public: bytes) -> Any:
        calls.append("libsodium")
        return real(signed, public)

    monkeypatch.setattr(nacl.bindings, "crypto_sign_open", spy)
    _ed25519._libsodium.cache_clear()
    try:
        key = Ed25519Key.from_seed(bytes(32))
        with _ed25519.forced_backend("openssl"):
            assert key.verify(key.sign(b"x"), b"x")
        assert calls == []
        with _ed25519.forced_backend("libsodium"):
            assert key.verify(key.sign(b"x"), b"x")
        assert calls == ["libsodium"]
    finally:
        _ed25519._libsodium.cache_clear()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_bytes_like_signature_and_message_are_read_as_bytes(backend: Backend) -> None:
    key = Ed25519Key.from_seed(bytes(32))
    signature = key.sign(b"abc")
    # typed as bytes; an untyped caller's bytearray or memoryview worked with cryptography, and still does
    signed: Any = (bytearray(signature), memoryview(b"abc"))
    forged: Any = (memoryview(signature), bytearray(b"abd"))
    with _ed25519.forced_backend(backend):
        assert key.verify(*signed)
        assert not key.verify(*forged)
