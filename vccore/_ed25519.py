"""Ed25519 signature checks with one verdict, whichever library runs them (RFC 8032 section 5.1.7).

OpenSSL (through ``cryptography``) and libsodium (through PyNaCl) agree on every ordinary
signature but not on the edge cases: small-order and mixed-order public keys, small-order ``R``,
non-canonical encodings. vccore decides those here, in Python, before either library is called,
so a credential verifies or fails the same way wherever it is checked:

- ``S`` must be below the group order ``L`` (no malleable second form of a signature);
- ``R`` and the public key ``A`` must be canonical encodings (``y`` below ``p``; no ``x = -0``);
- ``R`` must not be one of the eight points of small order (its fourteen encodings);
- ``A`` must be in the prime-order subgroup and not the identity: no small-order key, no key with a
  small-order component (a key made from a seed is always such a point: only a made-up key is not);
- the equation is the cofactorless one both libraries use, ``[S]B = R + [k]A``, compared by
  encoding. With ``A`` free of small-order components, ``R`` then must be too, so the cofactored and
  cofactorless equations cannot give different answers.

The table of cases, with each library's own verdict, is in ``docs/internals.md`` ("Ed25519
verdicts"). A public key is checked once (a scalar multiplication in Python, about a millisecond)
and remembered; a signature's checks are a few integer comparisons.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from typing import Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

Backend = Literal["libsodium", "openssl"]

P: Final = 2**255 - 19
L: Final = 2**252 + 27742317777372353535851937790883648493  # the prime order of the base point
_D: Final = -121665 * pow(121666, P - 2, P) % P
_SQRT_M1: Final = pow(2, (P - 1) // 4, P)
_Y_MASK: Final = (1 << 255) - 1

# The eight points of small order, in all fourteen encodings (canonical ones first on each line),
# as C2SP/CCTV's ed25519/README.md lists them. tests/test_ed25519_edges.py proves the list whole.
SMALL_ORDER_ENCODINGS: Final = frozenset(
    bytes.fromhex(text)
    for text in (
        "0000000000000000000000000000000000000000000000000000000000000000",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000080",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    )
)

# x = 0 has two encodings, sign bit clear and set; RFC 8032 section 5.1.3 refuses the set one. Only
# y = 1 and y = p - 1 have x = 0, so these two are all: both name points of small order.
_X_MINUS_ZERO: Final = frozenset(
    bytes.fromhex(text)
    for text in (
        "0100000000000000000000000000000000000000000000000000000000000080",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    )
)


class Refusal(StrEnum):
    """Why a signature is refused before any library sees it."""

    LENGTH = "the signature is not 64 bytes or the key not 32"
    S_NOT_BELOW_L = "S is not below the group order L (RFC 8032 section 5.1.7)"
    R_NOT_CANONICAL = "R is not a canonical point encoding (y is not below p, or x = -0)"
    R_SMALL_ORDER = "R is a point of small order"
    A_NOT_A_POINT = "the public key is not a canonical encoding of a curve point"
    A_SMALL_ORDER = "the public key is a point of small order"
    A_MIXED_ORDER = "the public key has a small-order component (not in the prime-order subgroup)"


def refusal(public: bytes, signature: bytes) -> Refusal | None:
    """Why vccore refuses ``signature`` by ``public`` whatever the message, or None: the equation decides."""
    if len(signature) != 64 or len(public) != 32:
        return Refusal.LENGTH
    if int.from_bytes(signature[32:], "little") >= L:
        return Refusal.S_NOT_BELOW_L
    r = signature[:32]
    if int.from_bytes(r, "little") & _Y_MASK >= P:
        return Refusal.R_NOT_CANONICAL
    if r in _X_MINUS_ZERO:
        return Refusal.R_NOT_CANONICAL
    if r in SMALL_ORDER_ENCODINGS:
        return Refusal.R_SMALL_ORDER
    return key_refusal(public)


@functools.lru_cache(maxsize=4096)
def key_refusal(public: bytes) -> Refusal | None:
    """Why no signature by the public key ``public`` is accepted, or None for a good key (remembered)."""
    point = decode_point(public)
    if point is None:
        return Refusal.A_NOT_A_POINT
    if is_identity(multiply(8, point)):
        return Refusal.A_SMALL_ORDER
    if not is_identity(multiply(L, point)):
        return Refusal.A_MIXED_ORDER
    return None


# --- Edwards arithmetic (RFC 8032 section 5.1), variable time: only public values pass here -------

Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, xy = T/Z


def decode_point(encoded: bytes) -> Point | None:
    """The point ``encoded`` names (RFC 8032 section 5.1.3), or None if it is not a canonical encoding of one."""
    number = int.from_bytes(encoded, "little")
    sign, y = number >> 255, number & _Y_MASK
    if len(encoded) != 32 or y >= P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * _SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    if x == 0 and sign:  # "x = -0": decoding fails, as section 5.1.3 says
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


def add(a: Point, b: Point) -> Point:
    """``a + b`` (section 5.1.4's formulas, complete: they also double)."""
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % P
    bb = (y1 + x1) * (y2 + x2) % P
    cc = 2 * _D * t1 * t2 % P
    dd = 2 * z1 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def multiply(scalar: int, point: Point) -> Point:
    """``[scalar]point`` by double and add."""
    result: Point = (0, 1, 1, 0)
    for bit in f"{scalar:b}":
        result = add(result, result)
        if bit == "1":
            result = add(result, point)
    return result


def is_identity(point: Point) -> bool:
    """Whether ``point`` is the neutral element (0, 1)."""
    x, y, z, _ = point
    return x % P == 0 and (y - z) % P == 0


# --- the libraries ---------------------------------------------------------------------------------

# Tests route Ed25519Key.verify through one library with forced_backend(); nothing else sets it.
_FORCED: ContextVar[Backend | None] = ContextVar("vccore_ed25519_backend", default=None)


@functools.cache
def _libsodium() -> Callable[[bytes, bytes, bytes], bool] | None:
    """The check of libsodium through PyNaCl, or None when PyNaCl is not installed."""
    try:
        from nacl.bindings import crypto_sign_open
        from nacl.exceptions import BadSignatureError
    except ImportError:
        return None

    # PyNaCl 1.6 binds crypto_sign_open (signature then message), not the detached check; libsodium
    # runs the same verification for both.
    def check(signature: bytes, data: bytes, public: bytes) -> bool:
        try:
            crypto_sign_open(signature + data, public)
        except BadSignatureError:
            return False
        return True

    return check


def signer(seed: bytes, public: bytes) -> Callable[[bytes], bytes] | None:
    """Ed25519 signing with this key by libsodium, or None when PyNaCl is not installed. The key's
    secret goes to libsodium as bytes (seed then public key), as PyNaCl takes it.
    """
    try:
        from nacl.bindings import crypto_sign
    except ImportError:
        return None
    secret = seed + public

    def sign(data: bytes) -> bytes:
        return crypto_sign(bytes(data), secret)[:64]

    return sign


def default_backend() -> Backend:
    """The library verify() uses: libsodium when PyNaCl is installed (about twice as fast), else OpenSSL."""
    return "libsodium" if _libsodium() is not None else "openssl"


@contextmanager
def forced_backend(backend: Backend) -> Iterator[None]:
    """For tests: every verify() in this context runs on ``backend``."""
    if backend == "libsodium" and _libsodium() is None:
        raise RuntimeError("PyNaCl is not installed: libsodium cannot be forced")
    token = _FORCED.set(backend)
    try:
        yield
    finally:
        _FORCED.reset(token)


def verify(
    public: bytes,
    signature: bytes,
    data: bytes,
    openssl_key: Callable[[], Ed25519PublicKey] | None = None,
    *,
    backend: Backend | None = None,
) -> bool:
    """Whether ``signature`` is ``public``'s Ed25519 signature of ``data``, with vccore's verdict on edge cases.

    ``openssl_key`` gives the ``cryptography`` key object (a caller's cached one) for the OpenSSL
    path; ``backend`` picks the library (tests), else the forced one, else :func:`default_backend`.
    """
    # bytes-like in (cryptography took a bytearray or memoryview): bytes of bytes is no copy
    public, signature, data = bytes(public), bytes(signature), bytes(data)
    if refusal(public, signature) is not None:
        return False
    chosen = backend or _FORCED.get() or default_backend()
    if chosen == "libsodium":
        sodium = _libsodium()
        if sodium is None:
            raise RuntimeError("PyNaCl is not installed: libsodium cannot check this signature")
        return sodium(signature, data, public)
    key = openssl_key() if openssl_key is not None else Ed25519PublicKey.from_public_bytes(public)
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def raw_verify(backend: Backend, public: bytes, signature: bytes, data: bytes) -> bool:
    """The library's own verdict, without vccore's checks: for the tests and the docs' table only."""
    if backend == "libsodium":
        sodium = _libsodium()
        if sodium is None:
            raise RuntimeError("PyNaCl is not installed")
        try:
            return sodium(signature, data, public)
        except ValueError:  # PyNaCl refuses wrong lengths before libsodium sees them
            return False
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True
