"""The credential: the rendered pieces read as JSON, its structure from the template's text alone.

The original doubles every backslash of the rendered text and calls ``JSON.parse``. Here the
template's pieces are read as that text; a data value fills a string's content or stands as one
scalar, and is never read as structure (a quote, a bracket, a comma, a key).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final, NoReturn

from ..codes import ErrorCode
from ..errors import TemplateError
from ._runtime import Piece, js_text
from ._syntax import MAX_NESTING

_JSON_WS: Final = " \t\n\r"
_BARE: Final = re.compile(r"[-+.0-9A-Za-z]+")
_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
_STRING_STOP: Final = re.compile(r'["\\\x00-\x1f]')
_SKIP_WS: Final = re.compile(r"[ \t\n\r]*")
JsonToken = tuple[str, Any, int, "str | None", "str | None"]  # kind, value, offset, data path, empty slot before


def _json_number(text: str) -> int | float:
    """A JSON number as JSON.parse holds it: a double, given as an int when integral up to 2**53."""
    if text.lstrip("-").isdigit() and len(text) < 16:
        return int(text)
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError("is out of range for a JSON number")
    return int(value) if value.is_integer() and abs(value) <= 2**53 else value


def _scalar(text: str, field: str) -> Any:
    """One JSON scalar from data, read as the original reads it (each backslash doubled)."""
    try:
        if text[0] == '"':
            value = json.loads(text.replace("\\", "\\\\"))
            if isinstance(value, str):
                return js_text(value)
        elif _NUMBER.match(text):
            return _json_number(text)
        elif text in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text]
        raise ValueError("is not one JSON value")
    except ValueError:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise TemplateError(
            f"template data: {field} prints {shown!r} where the template needs one JSON number, "
            "true, false, null or string",
            code=ErrorCode.TEMPLATE_DATA,
            field=field,
        ) from None


def _not_json(src: str, offset: int, what: str) -> NoReturn:
    line = src.count("\n", 0, offset) + 1
    column = offset - src.rfind("\n", 0, offset)
    raise TemplateError(
        f"template: the rendered credential is not JSON: {what} (line {line}, column {column} of the template)",
        code=ErrorCode.TEMPLATE_NOT_JSON,
        line=line,
        column=column,
    )


def _data_error(field: str, what: str) -> NoReturn:
    raise TemplateError(f"template data: {field} {what}", code=ErrorCode.TEMPLATE_DATA, field=field)


def _json_tokens(pieces: list[Piece], src: str) -> tuple[list[JsonToken], str | None]:
    """The JSON tokens of the rendered text. The template's text makes the structure; data fills strings and scalars."""
    tokens: list[JsonToken] = []
    in_string, buf, string_pos, string_field = False, [], 0, None
    bare, bare_pos = "", 0
    glued: str | None = None  # a data scalar just ended with nothing after it that ends a token
    empty: str | None = None  # a data value just printed nothing where a token could be

    def flush_bare() -> None:
        nonlocal bare
        if bare:
            if _NUMBER.match(bare):
                try:
                    tokens.append(("v", _json_number(bare), bare_pos, None, None))
                except ValueError:
                    _not_json(src, bare_pos, f"{bare} is out of range")
            elif bare in ("true", "false", "null"):
                tokens.append(("v", {"true": True, "false": False, "null": None}[bare], bare_pos, None, None))
            else:
                _not_json(src, bare_pos, f"{bare!r} is not a JSON value")
            bare = ""

    for text, field, pos in pieces:
        if field is not None:
            if in_string:
                buf.append(text)
                string_field = string_field or field
                continue
            stripped = text.strip(_JSON_WS)
            empty = field if not stripped else empty
            if not text:
                continue
            if not stripped:
                flush_bare()
                glued = None
                continue
            if (bare or glued) and text[0] not in _JSON_WS:
                _data_error(glued or field, "is glued to the JSON token beside it")
            flush_bare()
            tokens.append(("v", _scalar(stripped, field), pos, field, empty))
            glued, empty = (field if text[-1] not in _JSON_WS else None), None
            continue
        if glued and not in_string and _BARE.match(text):
            _data_error(glued, "is glued to the JSON token beside it")
        glued, i, n = None, 0, len(text)
        while i < n:
            if in_string:
                m = _STRING_STOP.search(text, i)
                if m is None:
                    buf.append(text[i:])
                    break
                buf.append(text[i : m.start()])
                i = m.end()
                if m.group() == "\\":  # doubled by the original: a literal backslash
                    buf.append("\\")
                elif m.group() == '"':
                    tokens.append(("s", js_text("".join(buf)), string_pos, string_field, empty))
                    in_string, buf, empty = False, [], None
                else:
                    _not_json(src, pos + m.start(), "a control character inside a JSON string")
                continue
            j = _SKIP_WS.match(text, i).end()  # type: ignore[union-attr]
            if j > i:
                flush_bare()
                i = j
                continue
            c = text[i]
            m = _BARE.match(text, i)
            if m:
                if not bare:
                    bare_pos = pos + i
                bare += m.group()
                i = m.end()
                continue
            flush_bare()
            if c == '"':
                in_string, string_pos, string_field = True, pos + i, None
            elif c in "{}[]:,":
                tokens.append((c, None, pos + i, None, empty))
                empty = None
            else:
                _not_json(src, pos + i, f"unexpected {c!r}")
            i += 1
    if in_string:
        _not_json(src, string_pos, "a string is not closed")
    flush_bare()
    return tokens, empty


def _json_value(tokens: list[JsonToken], src: str, empty_at_end: str | None) -> Any:
    """The tokens as one JSON value, read without recursion; keys written by data are refused."""
    stack: list[tuple[Any, str]] = []  # container, key waiting for its value
    state, result = "value", None

    def fail(tok: JsonToken | None, what: str) -> NoReturn:
        empty = tok[4] if tok else empty_at_end
        if empty is not None:
            _data_error(empty, "is empty where the template needs a JSON value")
        _not_json(src, tok[2] if tok else len(src), what)

    def put(value: Any) -> str:
        nonlocal result
        if not stack:
            result = value
            return "end"
        container, key = stack[-1]
        if isinstance(container, list):
            container.append(value)
        else:
            container[key] = value
        return "next"

    for tok in tokens:
        kind = tok[0]
        if state in ("value", "first"):
            if kind in ("v", "s"):
                state = put(tok[1])
            elif kind in ("{", "["):
                if len(stack) >= 4 * MAX_NESTING:
                    _not_json(src, tok[2], f"JSON nests deeper than {4 * MAX_NESTING}")
                stack.append(({} if kind == "{" else [], ""))
                state = "first key" if kind == "{" else "first"
            elif kind == "]" and state == "first":
                state = put(stack.pop()[0])
            else:
                fail(tok, f"a value was expected, found {kind!r}")
        elif state in ("key", "first key"):
            if kind == "s" and tok[3] is None:
                stack[-1] = (stack[-1][0], tok[1])
                state = "colon"
            elif kind in ("s", "v") and tok[3] is not None:
                _data_error(tok[3], "would write an object key")
            elif kind == "}" and state == "first key":
                state = put(stack.pop()[0])
            else:
                fail(tok, "a key was expected")
        elif state == "colon":
            if kind != ":":
                fail(tok, "':' was expected")
            state = "value"
        elif state == "next":
            container = stack[-1][0]
            if kind == ",":
                state = "value" if isinstance(container, list) else "key"
            elif kind == ("]" if isinstance(container, list) else "}"):
                state = put(stack.pop()[0])
            else:
                fail(tok, "',' or the end of the container was expected")
        else:
            fail(tok, "text after the JSON value")
    if state != "end":
        fail(None, "the JSON ends early")
    return result
