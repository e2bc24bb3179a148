"""vccore._json.loads: json.loads's reading (str, or bytes in UTF-8, -16 or -32), stricter."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vccore import _json

_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


def _plain(text: Any) -> Any:
    return ("value", json.loads(text))


def _strict(text: Any) -> Any:
    return ("value", _json.loads(text))


@settings(max_examples=300)
@given(_values, st.sampled_from(["str", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32-be"]))
def test_reads_what_json_loads_reads(value: Any, encoding: str) -> None:
    text = json.dumps(value, ensure_ascii=False)
    given_text: str | bytes = text if encoding == "str" else text.encode(encoding, "surrogatepass")
    assert _strict(given_text) == _plain(given_text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ('{"a": NaN}', "NaN is not JSON"),
        ("\ufeff{}", "Unexpected UTF-8 BOM"),
        (b'{"a": "\xff"}', "codec can't decode"),
        ("{", "Expecting property name"),
    ],
)
def test_refuses_with_why(text: str | bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _json.loads(text)


def test_refuses_what_is_not_text() -> None:
    with pytest.raises(TypeError, match="must be str, bytes or bytearray, not int"):
        _json.loads(1)  # type: ignore[arg-type]
