r"""N-Quads (RDF 1.1) parsing and the canonical N-Quads form of RDFC-1.0.

Terms are kept as their canonical N-Quads text, so that serializing a quad is a string join and
a blank node is recognised by its ``_:`` prefix (IRIs start with ``<``, literals with ``"``).
A quad is ``(subject, predicate, object, graph)`` with ``graph == ""`` for the default graph.

pyld is not used for N-Quads: it writes control characters raw (RDFC-1.0 requires ``\b``,
``\f`` and ``\u00XX``) and its parser ignores ``\u``/``\U`` escapes (W3C rdf-canon test060).
"""

from __future__ import annotations

import functools
import re
from functools import lru_cache
from typing import Final

from .codes import ErrorCode
from .errors import CanonicalizationError

Quad = tuple[str, str, str, str]

XSD_STRING: Final = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANGSTRING: Final = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
# JSON-LD 1.1's rdfDirection "i18n-datatype": text with a base direction is a literal of datatype
# I18N + language (lower case, may be empty) + "_" + direction, with no language tag.
I18N: Final = "https://www.w3.org/ns/i18n#"

# RDFC-1.0 section 4.2 (canonical N-Quads): in literals, escape \ and " and every character in
# U+0000-U+001F and U+007F; \b \t \n \f \r use their short forms, the others \u00XX in upper case.
_LITERAL_ESCAPES: Final = {i: f"\\u{i:04X}" for i in [*range(0x20), 0x7F]}
_LITERAL_ESCAPES.update({0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"})
_NEEDS_ESCAPE: Final = re.compile('[\x00-\x1f\x7f"\\\\]')


def escape_literal(value: str) -> str:
    """The body of a canonical N-Quads string literal (without the quotes)."""
    if _NEEDS_ESCAPE.search(value) is None:
        return value
    return value.translate(_LITERAL_ESCAPES)


# Characters an IRIREF may not hold raw (RDF 1.1 N-Quads); written as \u00XX, as rdf-canonize
# does, so that no IRI can end a term early or inject a quad. Safe mode refuses such IRIs anyway.
_IRI_ESCAPES: Final = {c: f"\\u{c:04X}" for c in [*range(0x21), *map(ord, '<>"{}|^`\\')]}
_IRI_NEEDS_ESCAPE: Final = re.compile('[\x00-\x20<>"{}|^`\\\\]')


def iri(value: str) -> str:
    """An IRI term."""
    if _IRI_NEEDS_ESCAPE.search(value) is None:
        return f"<{value}>"
    return f"<{value.translate(_IRI_ESCAPES)}>"


def literal(value: str, datatype: str = XSD_STRING, language: str | None = None) -> str:
    """A literal term in canonical form (xsd:string implicit, language-tagged as ``@lang``)."""
    body = f'"{escape_literal(value)}"'
    if language:
        return f"{body}@{language}"
    if datatype == XSD_STRING:
        return body
    return f"{body}^^<{datatype}>"


def is_blank(term: str) -> bool:
    """Whether ``term`` is a blank node."""
    return term.startswith("_:")


# A verifier reads the same terms over and over (a list set's URLs, dates, purposes): the two
# readers below are pure, and short terms are cached (a long one, a name of a megabyte, is not
# kept: 4,096 of them would hold gigabytes).
_CACHED_TERM: Final = 256


def iri_value(term: str) -> str:
    """The IRI an IRI term (``<...>``) names, its escapes undone."""
    return _iri_value(term) if len(term) <= _CACHED_TERM else _unescape(term[1:-1], 0, in_iri=True)


@lru_cache(maxsize=4096)
def _iri_value(term: str) -> str:
    return _unescape(term[1:-1], 0, in_iri=True)


def literal_value(term: str) -> tuple[str, str, str | None]:
    """A literal term's lexical form, datatype IRI and language tag (None when it has none).

    The closing quote is the term's last ``"``: the body escapes its own quotes, and neither a
    language tag nor a datatype IRI (written by :func:`iri`) holds one.
    """
    return _literal_value(term) if len(term) <= _CACHED_TERM else _read_literal(term)


@lru_cache(maxsize=4096)
def _literal_value(term: str) -> tuple[str, str, str | None]:
    return _read_literal(term)


def _read_literal(term: str) -> tuple[str, str, str | None]:
    end = term.rindex('"')
    value = _unescape(term[1:end], 0, in_iri=False)
    rest = term[end + 1 :]
    if rest.startswith("@"):
        return value, RDF_LANGSTRING, rest[1:]
    if rest.startswith("^^"):
        return value, iri_value(rest[2:]), None
    return value, XSD_STRING, None


def serialize(quad: Quad) -> str:
    """One canonical N-Quads line, with its final newline."""
    s, p, o, g = quad
    if g:
        return f"{s} {p} {o} {g} .\n"
    return f"{s} {p} {o} .\n"


# --- parsing -------------------------------------------------------------------------------

_UCHAR_OR_ECHAR: Final = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|([tbnrf\"'\\]))")
_ECHARS: Final = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}

_PN_START = "A-Za-z0-9_\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
_PN_CHARS = _PN_START + "\\-\u00b7\u0300-\u036f\u203f-\u2040"


_TOKEN: Final = (
    r"""[ \t]*(?:
        (?P<iri><(?:[^\x00-\x20<>"{}|^`\\]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*>)
      | (?P<bnode>_:[%s](?:[%s.]*[%s])?)
      | (?P<literal>"(?:[^"\\\n\r]|\\.)*")(?:\^\^(?P<datatype><[^>]*>)|@(?P<lang>[a-zA-Z]+(?:-[a-zA-Z0-9]+)*))?
      | (?P<dot>\.)
      | (?P<comment>\#.*)
    )"""  # noqa: UP031 (format() would need every brace of the pattern doubled)
    % (_PN_START, _PN_CHARS, _PN_CHARS)
)


@functools.cache
def _token() -> re.Pattern[str]:
    """:data:`_TOKEN`, compiled when first parsed with: 5 ms, and most runs never parse N-Quads."""
    return re.compile(_TOKEN, re.VERBOSE)


_EOL: Final = re.compile("\r\n|\n|\r")


def _unescape(text: str, line_no: int, *, in_iri: bool) -> str:
    def replace(match: re.Match[str]) -> str:
        hex4, hex8, echar = match.groups()
        if echar is not None:
            if in_iri:
                raise CanonicalizationError(
                    f"N-Quads line {line_no}: escape \\{echar} is not allowed in an IRI",
                    code=ErrorCode.INVALID_NQUADS,
                    line=line_no,
                )
            return _ECHARS[echar]
        code = int(hex4 or hex8, 16)
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise CanonicalizationError(
                f"N-Quads line {line_no}: \\u escape {hex4 or hex8} is not a Unicode scalar value",
                code=ErrorCode.INVALID_NQUADS,
                line=line_no,
            )
        return chr(code)

    if "\\" not in text:
        return text
    return _UCHAR_OR_ECHAR.sub(replace, text)


def _iri_term(raw: str, line_no: int) -> str:
    # A \u escape may stand for a character an IRI cannot hold raw; it is kept, and written
    # escaped again by iri().
    value = _unescape(raw[1:-1], line_no, in_iri=True)
    if ":" not in value:
        raise CanonicalizationError(
            f"N-Quads line {line_no}: {raw} is not an absolute IRI",
            code=ErrorCode.INVALID_NQUADS,
            line=line_no,
        )
    return iri(value)


def parse(text: str) -> list[Quad]:
    """Parse N-Quads into quads of canonical terms; duplicates are dropped (a dataset is a set)."""
    quads: dict[Quad, None] = {}
    token = _token()
    # Only CR and LF end lines (str.splitlines would also split on U+0085, U+2028, ...).
    for line_no, line in enumerate(_EOL.split(text), 1):
        terms: list[str] = []
        pos = 0
        ended = False
        stripped_end = len(line.rstrip(" \t"))
        while pos < stripped_end:
            match = token.match(line, pos)
            if match is None or match.end() == pos:
                raise CanonicalizationError(
                    f"N-Quads line {line_no}: cannot read {line[pos : pos + 40]!r}",
                    code=ErrorCode.INVALID_NQUADS,
                    line=line_no,
                )
            pos = match.end()
            if match["comment"] is not None:
                break
            if ended:
                raise CanonicalizationError(
                    f"N-Quads line {line_no}: text after the final '.'",
                    code=ErrorCode.INVALID_NQUADS,
                    line=line_no,
                )
            if match["dot"] is not None:
                ended = True
            elif match["iri"] is not None:
                terms.append(_iri_term(match["iri"], line_no))
            elif match["bnode"] is not None:
                terms.append(match["bnode"])
            else:
                if len(terms) != 2:
                    raise CanonicalizationError(
                        f"N-Quads line {line_no}: a literal may only be the object",
                        code=ErrorCode.INVALID_NQUADS,
                        line=line_no,
                    )
                value = _unescape(match["literal"][1:-1], line_no, in_iri=False)
                if match["lang"] is not None:
                    terms.append(literal(value, RDF_LANGSTRING, match["lang"]))
                elif match["datatype"] is not None:
                    terms.append(literal(value, _iri_term(match["datatype"], line_no)[1:-1]))
                else:
                    terms.append(literal(value))
        if not terms and not ended:
            continue
        if not ended or len(terms) not in (3, 4):
            raise CanonicalizationError(
                f"N-Quads line {line_no}: a statement is subject, predicate, object, an optional graph, and '.'",
                code=ErrorCode.INVALID_NQUADS,
                line=line_no,
            )
        s, p, o = terms[0], terms[1], terms[2]
        g = terms[3] if len(terms) == 4 else ""
        if s[0] == '"' or p[0] != "<" or (g and g[0] == '"'):
            raise CanonicalizationError(
                f"N-Quads line {line_no}: subject must be an IRI or blank node, "
                "predicate an IRI, graph an IRI or blank node",
                code=ErrorCode.INVALID_NQUADS,
                line=line_no,
            )
        quads[(s, p, o, g)] = None
    return list(quads)
