"""Multibase (base58btc ``z``, base64url ``u``) and the multicodec prefixes vccore uses."""

from __future__ import annotations

import base64
import re
from typing import Final

_ALPHABET: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX: Final = {c: i for i, c in enumerate(_ALPHABET)}
_B64URL: Final = re.compile(r"[A-Za-z0-9_-]*")

# Multicodec table entries, as their unsigned-varint bytes.
ED25519_PUB: Final = b"\xed\x01"  # 0xed
ED25519_PRIV: Final = b"\x80\x26"  # 0x1300

# Longest base58 text vccore decodes: enough for any key or signature, and a bound on the
# quadratic decode for hostile input.
_MAX_BASE58 = 4096


_CHUNK: Final = 58**10  # ten digits per big-number division
_PAIRS: Final = [a + b for a in _ALPHABET for b in _ALPHABET]  # two digits per small division


def b58encode(data: bytes) -> str:
    """Base58 (Bitcoin alphabet)."""
    zeros = len(data) - len(data.lstrip(b"\0"))
    number = int.from_bytes(data, "big")
    chunks = []
    while number:
        number, chunk = divmod(number, _CHUNK)
        chunks.append(chunk)
    pieces = []
    for chunk in chunks:  # least significant first; each one ten digits, "1"-padded
        a, e = divmod(chunk, 3364)
        a, d = divmod(a, 3364)
        a, c = divmod(a, 3364)
        a, b = divmod(a, 3364)
        pieces.append(_PAIRS[a] + _PAIRS[b] + _PAIRS[c] + _PAIRS[d] + _PAIRS[e])
    return "1" * zeros + "".join(reversed(pieces)).lstrip("1")


def b58decode(text: str) -> bytes:
    """Inverse of :func:`b58encode`; ValueError on characters outside the alphabet."""
    if len(text) > _MAX_BASE58:
        raise ValueError(f"base58 text longer than {_MAX_BASE58} characters")
    number = 0
    for char in text:
        try:
            number = number * 58 + _INDEX[char]
        except KeyError:
            raise ValueError(f"{char!r} is not a base58btc character") from None
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of :func:`b64url_encode`, strict: no padding, no other characters, and only the
    canonical encoding (unused trailing bits zero), so that one value has one text.
    """
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url text")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(data) != text:
        raise ValueError("not the canonical base64url encoding")
    return data


def encode(data: bytes, base: str = "z") -> str:
    """Multibase text: ``z`` base58btc or ``u`` base64url."""
    if base == "z":
        return "z" + b58encode(data)
    if base == "u":
        return "u" + b64url_encode(data)
    raise ValueError(f"multibase {base!r} is not supported")


def decode_base58btc(text: object) -> bytes:
    """Bytes of ``z``-multibase text; keys and signatures use nothing else."""
    if not isinstance(text, str) or not text.startswith("z"):
        raise ValueError("expected base58btc multibase text, starting with 'z'")
    return b58decode(text[1:])


def decode(text: str) -> bytes:
    """Bytes of multibase text in base58btc (``z``) or base64url (``u``)."""
    if not isinstance(text, str) or not text:
        raise ValueError("multibase text is empty")
    if text[0] == "z":
        return b58decode(text[1:])
    if text[0] == "u":
        return b64url_decode(text[1:])
    raise ValueError(f"multibase prefix {text[0]!r} is not supported (expected 'z' or 'u')")
