r"""Handlebars 4.7 for credential templates (Sunbird RC's, DIVOC's), rendered so data cannot change their JSON.

Sunbird RC's certificate signer makes a credential with ``Handlebars.compile(template)(data)``
(handlebars.js 4.7, HTML escaping on, the built-in helpers), doubles every backslash of the text
and hands it to ``JSON.parse``. :func:`compile` reads the same templates: ``render`` gives the
text handlebars.js gives, character for character, and ``render_json`` the credential.

The credential is structural: its JSON structure comes from the template's own text, never from
data. Rendering keeps, for each piece of output, whether the template or a data value wrote it,
and the JSON is read from those pieces:

- a value inside a JSON string (``"name": "{{name}}"``) is that string's content, whatever it
  holds: a ``"``, a backslash or a newline stays text. The original reads the same content
  wherever its ``JSON.parse`` succeeds; it fails on a control character and ends the string at a
  ``"`` from ``{{{ }}}``, where this reads text;
- a value between JSON tokens (``"age": {{age}}``) must print as one JSON scalar standing alone
  (a number, ``true``, ``false``, ``null``, or from ``{{{ }}}`` one JSON string), else it is
  ``TEMPLATE_DATA`` naming the field: an array, an object, ``1, "x": 2``, or digits glued to the
  template's ``1{{n}}``. A value that prints empty or as spaces adds nothing;
- a value may not write an object key. Block helpers (``each``, ``if``, ...) choose which pieces
  of the template appear, so the structure they span still comes from the template.

Backslashes as the original: each one the template writes inside a JSON string is a literal
backslash (its ``\n`` is a backslash and an n), and a data backslash is a backslash.

Where this differs, the original fails or its result would depend on data: partials and
decorators are refused (``TEMPLATE_SYNTAX``); ``formatTime`` refuses what moment.js prints as
``Invalid date`` or guesses at (not ISO 8601 calendar dates); numbers are ``JSON.parse``'s
doubles (an integral one up to 2**53 is an ``int``). Delimiters (``CUSTOM_TEMPLATE_DELIMITERS``)
are regular-expression fragments rewritten to ``{{ }}`` before parsing, as npm
``handlebars-delimiters`` 1.0 does, quirks included; error positions (1-based line and column)
are in the rewritten text. Bounds: :data:`MAX_TEMPLATE_CHARS`, :data:`MAX_NESTING`,
:data:`MAX_OUTPUT_CHARS`, :data:`MAX_STEPS`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ..codes import ErrorCode
from ..errors import TemplateError
from ._credential import _json_tokens, _json_value
from ._format_time import format_time_helper
from ._runtime import MAX_OUTPUT_CHARS, MAX_STEPS, Helper, Piece, _Run, _Scope, js_text
from ._syntax import _BUILTINS, MAX_NESTING, MAX_TEMPLATE_CHARS, UNDEFINED, _Parser, _Program, _resolve
from ._whitespace import _ws_program

__all__ = [
    "MAX_NESTING",
    "MAX_OUTPUT_CHARS",
    "MAX_STEPS",
    "MAX_TEMPLATE_CHARS",
    "UNDEFINED",
    "Helper",
    "Template",
    "compile",
    "format_time_helper",
]


# ---------------------------------------------------------------- delimiters: npm handlebars-delimiters 1.0
def _rewrite_delimiters(src: str, open_: str, close: str) -> str:
    """Rewrite ``open X close`` to ``{{X}}``, after escaping existing ``{{X}}`` when close is not ``}}``.

    The delimiters are regular-expression fragments; ``(?!=)`` is added to an opening one not
    ending in ``=``. The search resumes where the match ended in the text before it was
    replaced, as the package's ``RegExp.exec`` loop does.
    """
    if (open_, close) == ("{{", "}}"):
        return src  # every match is replaced by itself
    opening = open_ if open_.endswith("=") else open_ + "(?!=)"
    try:
        with warnings.catch_warnings():  # Python warns of a "[[" it reads as JavaScript does
            warnings.simplefilter("ignore", FutureWarning)
            pattern, opener = re.compile(opening + r"([\s\S]+?)" + close), re.compile(opening)
    except re.error as error:
        raise ValueError(f"template delimiters {open_!r}, {close!r} are not a regular expression: {error}") from None
    if close != "}}":
        src = _js_replace(src, re.compile(r"\{\{([\s\S]+?)\}\}"), re.compile(r"\{\{"), "\\")
    return _js_replace(src, pattern, opener, "")


def _js_replace(src: str, pattern: re.Pattern[str], opener: re.Pattern[str], prefix: str) -> str:
    out: list[str] = []
    copied, length, last, inner = 0, 0, 0, ""  # copied: src done; length: of out; last: JS lastIndex
    while True:
        if last < length:  # the search resumes inside the text just written
            tail = inner[len(inner) - (length - last) :]
            window = tail + src[copied : copied + 256]
            if any(opener.match(window, k) for k in range(len(tail))):
                raise ValueError("template delimiters match inside their own replacement")
            start = copied
        else:
            start = copied + (last - length)
        m = pattern.search(src, start)
        if m is None:
            break
        inner = prefix + "{{" + m.group(1) + "}}"
        out += (src[copied : m.start()], inner)
        match_start = length + (m.start() - copied)
        last, length, copied = match_start + len(m.group()), match_start + len(inner), m.end()
        if length > MAX_TEMPLATE_CHARS:
            break
    out.append(src[copied:])
    return "".join(out)


# ---------------------------------------------------------------- the public face
class Template:
    """A compiled Handlebars template (``source``: its text, delimiters rewritten). Build one with :func:`compile`."""

    __slots__ = ("_helpers", "_program", "source")

    def __init__(self, source: str, program: _Program, helpers: Mapping[str, Helper]) -> None:
        self.source, self._program, self._helpers = source, program, helpers

    def _pieces(self, data: Any) -> list[Piece]:
        run = _Run(self.source, self._helpers)
        return run.text(run.run(self._program, _Scope(data, "", [(data, "")], {"root": data}, ())))  # '' + main()

    def render(self, data: Any) -> str:
        """The text handlebars.js 4.7 renders from this template and data (JSON-like Python values)."""
        return js_text("".join(piece[0] for piece in self._pieces(data)))

    def render_json(self, data: Any) -> Any:
        """The credential: the rendered text read as JSON, its structure from the template alone."""
        tokens, empty_at_end = _json_tokens(self._pieces(data), self.source)
        return _json_value(tokens, self.source, empty_at_end)


def compile(  # noqa: A001 - the name handlebars.js gives it
    source: str, *, delimiters: tuple[str, str] = ("{{", "}}"), helpers: Mapping[str, Helper] | None = None
) -> Template:
    """Parse a Handlebars 4.7 template; ``TEMPLATE_SYNTAX`` (``line``, ``column``) if it does not parse.

    ``delimiters`` are Sunbird RC's ``CUSTOM_TEMPLATE_DELIMITERS`` (open, close); ``helpers`` add
    to the built-in ones (each, if, unless, with, lookup, log), for example ``formatTime``:
    ``{"formatTime": format_time_helper(os.environ.get("TIME_ZONE"))}``. A helper gets the values
    of its parameters (hash parameters as keywords) and raises ValueError to refuse one.
    """
    helpers = dict(helpers or {})
    for name, helper in helpers.items():
        if name in _BUILTINS or not callable(helper):
            raise ValueError(f"helper {name!r}: a built-in helper's name, or not callable")
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateError(
            f"template: longer than {MAX_TEMPLATE_CHARS} characters",
            code=ErrorCode.TEMPLATE_SYNTAX,
            line=1,
            column=1,
            limit=MAX_TEMPLATE_CHARS,
        )
    src = _rewrite_delimiters(source, *delimiters)
    if len(src) > MAX_TEMPLATE_CHARS:
        raise TemplateError(
            f"template: longer than {MAX_TEMPLATE_CHARS} characters once its delimiters are rewritten",
            code=ErrorCode.TEMPLATE_SYNTAX,
            line=1,
            column=1,
            limit=MAX_TEMPLATE_CHARS,
        )
    parser = _Parser(src)
    program = parser.program()
    parser.take("EOF")
    _ws_program(program, True)
    _resolve(program, [])
    return Template(src, program, MappingProxyType(helpers))
