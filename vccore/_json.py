"""Strict JSON reading for what vccore verifies: I-JSON (RFC 7493), as JCS and signatures assume;
and the compact JSON vccore writes.
"""

from __future__ import annotations

import json
from typing import Any


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)  # in C; fewer members than pairs: a key given twice
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                # Parsers disagree on which duplicate wins; a verifier and a viewer could then
                # read different data under one signature.
                raise ValueError(f"duplicate key {key!r}")
            seen.add(key)
    return out


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# One decoder for every call: json.loads with hooks makes a new one each time (1.5 us of the
# 12 us a credential takes to read).
_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_constant)


def loads(text: str | bytes) -> Any:
    """Parse JSON, refusing duplicate keys and NaN/Infinity; ValueError says why."""
    try:
        if isinstance(text, (bytes, bytearray)):  # as json.loads reads bytes: UTF-8, -16 or -32
            text = text.decode(json.detect_encoding(text), "surrogatepass")
        elif not isinstance(text, str):
            raise TypeError(f"the JSON object must be str, bytes or bytearray, not {type(text).__name__}")
        elif text.startswith("\ufeff"):  # as json.loads refuses a str with a BOM
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        return _DECODER.decode(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def compact(value: Any) -> str:
    """``value`` as compact JSON, UTF-8 characters as they are: what the store holds and a batch
    writes (and what the compiled JSON text of a credential is held to, byte for byte).
    """
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def as_list(value: Any) -> list[Any]:
    """A JSON member that may hold one value or a list of them, as a list (None: an empty one)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def one_or_many(value: Any) -> list[Any]:
    """A JSON value that may be one value or a list of them, as a list (None stays a value: ``[None]``).

    For ``@context`` and the like, where a null is itself something to refuse, not an absence.
    The list given is returned as it is, not copied.
    """
    return value if isinstance(value, list) else [value]


def kind(value: Any) -> str:
    """What a JSON value is, in a user's words for a message ("an empty string", "a number",
    "an array", ...): never a Python type name or repr.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value else "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a value of no JSON kind"
