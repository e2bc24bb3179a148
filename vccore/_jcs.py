"""JSON Canonicalization Scheme (RFC 8785): the exact bytes JSON.stringify would give, keys sorted.

Used by eddsa-jcs-2022. Strings are escaped as ECMAScript JSON.stringify escapes them, numbers
written as ECMAScript's Number::toString writes them, object keys sorted by UTF-16 code units.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any, Final

from .codes import ErrorCode
from .errors import CanonicalizationError

_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_ESCAPE: Final = re.compile('[\x00-\x1f"\\\\]')
_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")
# Past this, a JSON integer is not exactly a JavaScript number: write the double it becomes.
_EXACT_INTEGER: Final = 2**53
# What the C JSON encoder would write otherwise than JCS: a character outside the BMP (a key with
# one may sort otherwise by UTF-16 code units than by code points), a surrogate, and (outside the
# strings) a number with a fraction or an exponent, or of 16 digits or more.
_ASTRAL_OR_SURROGATE: Final = re.compile("[\ud800-\udfff\U00010000-\U0010ffff]")
_JSON_STRING: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')  # unrolled: a third of the time of (?:a|b)*
_NOT_AN_EXACT_INTEGER: Final = re.compile(r"[0-9][.eE]|[0-9]{16}")  # the strings taken out: true, false


def canonicalize(value: Any) -> str:
    """The RFC 8785 canonical JSON text of ``value``."""
    out: list[str] = []
    try:
        _write(value, out)
    except RecursionError:
        raise CanonicalizationError(
            "the document is nested too deeply to process", code=ErrorCode.INPUT_TOO_DEEP
        ) from None
    return "".join(out)


def canonicalize_parsed(value: Any) -> str:
    r""":func:`canonicalize` of a value parsed from JSON text (every object key a string), by the
    C JSON encoder when it writes the same text: no character outside the BMP, no surrogate,
    integers only, below 2**53 (what a payload holds); else by :func:`canonicalize`. The two
    escape strings alike (the shortest escapes, ``\u00xx`` in lower case, nothing else escaped).
    A certify request's key: 19 -> 11 us (a HealthProfessional payload).
    """
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return canonicalize(value)  # which says what is wrong
    if (not text.isascii() and _ASTRAL_OR_SURROGATE.search(text)) or _NOT_AN_EXACT_INTEGER.search(
        _JSON_STRING.sub("", text)
    ):
        return canonicalize(value)
    return text


def _write(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, (int, float)):
        out.append(_number(value))
    elif isinstance(value, dict):
        out.append("{")
        for i, key in enumerate(sorted(value, key=_utf16_key)):
            if not isinstance(key, str):
                raise CanonicalizationError(
                    f"JSON object keys are strings, not {type(key).__name__}", code=ErrorCode.JSONLD_ERROR
                )
            if i:
                out.append(",")
            out.append(_string(key))
            out.append(":")
            _write(value[key], out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise CanonicalizationError(f"{type(value).__name__} is not a JSON value", code=ErrorCode.JSONLD_ERROR)


def _utf16_key(key: Any) -> bytes:
    return key.encode("utf-16-be", "surrogatepass") if isinstance(key, str) else b""


def _string(text: str) -> str:
    if _LONE_SURROGATE.search(text):
        raise CanonicalizationError(
            "a string holds a lone UTF-16 surrogate, which JCS refuses", code=ErrorCode.JSONLD_ERROR
        )
    if _NEEDS_ESCAPE.search(text) is None:
        return f'"{text}"'
    return '"' + _NEEDS_ESCAPE.sub(lambda m: _ESCAPES.get(m[0], f"\\u{ord(m[0]):04x}"), text) + '"'


def _number(value: float) -> str:
    """ECMAScript Number::toString (ECMA-262 section 6.1.6.1.20)."""
    if isinstance(value, int) and abs(value) < _EXACT_INTEGER:
        return str(value)
    number = float(value)
    if not math.isfinite(number):
        raise CanonicalizationError(f"{value} is not a JSON number", code=ErrorCode.JSONLD_ERROR)
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    # repr() gives the shortest digits that round-trip, as ECMAScript requires; only the
    # notation differs.
    _, digit_tuple, exponent = Decimal(repr(abs(number))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    assert isinstance(exponent, int)
    k = len(digits)
    n = exponent + len(digit_tuple)  # value = 0.digits * 10**n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = f"{digits[:n]}.{digits[n:]}"
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        mantissa = digits[0] + (f".{digits[1:]}" if k > 1 else "")
        text = f"{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return sign + text
