"""handlebars.js 4.7's template language: its lexer (handlebars.l) and grammar (handlebars.yy), ported rule for rule.

``_Parser`` gives the tree handlebars.js's parser gives; ``_resolve`` then marks what its
compiler decides before a template runs: which names are block parameters, and whether each
mustache and block is a path, a helper call, or either (decided when it runs).
"""

from __future__ import annotations

import math
import re
from typing import Any, Final, NoReturn

from ..codes import ErrorCode
from ..errors import TemplateError

MAX_TEMPLATE_CHARS: Final = 1 << 20  # a template, after its delimiters are rewritten
MAX_NESTING: Final = 32  # blocks and sub-expressions inside each other (JSON: 4 times this)


class _Undefined:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = _Undefined()  # JavaScript's undefined (a missing key); None is null

# ---------------------------------------------------------------- lexer: handlebars.l as jison runs it
# JavaScript's \s (Python's differs: \x1c-\x1f and \x85 in, \ufeff out).
_S = "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
_W = f"[{_S}]"
_IDC = f'[^{_S}!"#%-,\\.\\/;->@\\[-\\^`\\{{-~]+'
_LOOK = f"(?=[~}}{_S})])"
_RULES: Final = {
    "INITIAL": [(0, r"[^\x00]*?(?=\{\{)"), (1, r"[^\x00]+"), (44, r"\Z")],
    "emu": [(2, r"[^\x00]{2,}?(?=\{\{|\\\{\{|\\\\\{\{|\Z)")],
    "com": [(6, r"[\s\S]*?--(~)?\}\}")],
    "raw": [(3, r"\{\{\{\{(?=[^/])"), (4, r"\{\{\{\{/" + _IDC + f"(?=[=}}{_S}/.])" + r"\}\}\}\}"),
            (5, r"[^\x00]+?(?=\{\{\{\{)")],
    "mu": [(7, r"\("), (8, r"\)"), (9, r"\{\{\{\{"), (10, r"\}\}\}\}"), (11, r"\{\{(~)?>"), (12, r"\{\{(~)?#>"),
           (13, r"\{\{(~)?#\*?"), (14, r"\{\{(~)?/"), (15, f"\\{{\\{{(~)?\\^{_W}*(~)?\\}}\\}}"),
           (16, f"\\{{\\{{(~)?{_W}*else{_W}*(~)?\\}}\\}}"), (17, r"\{\{(~)?\^"), (18, f"\\{{\\{{(~)?{_W}*else\\b"),
           (19, r"\{\{(~)?\{"), (20, r"\{\{(~)?&"), (21, r"\{\{(~)?!--"), (22, r"\{\{(~)?![\s\S]*?\}\}"),
           (23, r"\{\{(~)?\*?"), (24, "="), (25, r"\.\."), (26, f"\\.(?=[=~}}{_S}/.)|])"), (27, r"[/.]"),
           (28, f"{_W}+"), (29, r"\}(~)?\}\}"), (30, r"(~)?\}\}"), (31, r'"(\\["]|[^"])*"'),
           (32, r"'(\\[']|[^'])*'"), (33, "@"), (34, "true" + _LOOK), (35, "false" + _LOOK),
           (36, "undefined" + _LOOK), (37, "null" + _LOOK), (38, r"-?[0-9]+(?:\.[0-9]+)?" + _LOOK),
           (39, f"as{_W}+\\|"), (40, r"\|"), (41, _IDC + f"(?=[=~}}{_S}/.)|])"), (42, r"\[(\\\]|[^\]])*\]"),
           (43, "[^\\n\\r\\u2028\\u2029]"), (44, r"\Z")],
}  # fmt: skip
_LEX: Final = {state: [(n, re.compile(p, re.ASCII)) for n, p in rules] for state, rules in _RULES.items()}
_KIND: Final = {
    1: "CONTENT", 3: "CONTENT", 5: "CONTENT", 2: "CONTENT", 6: "COMMENT", 22: "COMMENT", 15: "INVERSE",
    16: "INVERSE", 29: "CLOSE_UNESCAPED", 30: "CLOSE", 7: "OPEN_SEXPR", 8: "CLOSE_SEXPR", 9: "OPEN_RAW_BLOCK",
    10: "CLOSE_RAW_BLOCK", 11: "OPEN_PARTIAL", 12: "OPEN_PARTIAL_BLOCK", 13: "OPEN_BLOCK", 14: "OPEN_ENDBLOCK",
    17: "OPEN_INVERSE", 18: "OPEN_INVERSE_CHAIN", 19: "OPEN_UNESCAPED", 20: "OPEN", 23: "OPEN", 24: "EQUALS",
    25: "ID", 26: "ID", 27: "SEP", 31: "STRING", 32: "STRING", 33: "DATA", 34: "BOOLEAN", 35: "BOOLEAN",
    36: "UNDEFINED", 37: "NULL", 38: "NUMBER", 39: "OPEN_BLOCK_PARAMS", 40: "CLOSE_BLOCK_PARAMS", 41: "ID",
    42: "ID", 43: "INVALID",
}  # fmt: skip
Token = tuple[str, str, int]  # kind, text, offset


def _lex(src: str) -> list[Token]:
    out: list[Token] = []
    pos, stack = 0, ["INITIAL"]
    while True:
        rule, m = next(((n, m) for n, rx in _LEX[stack[-1]] if (m := rx.match(src, pos))), (-1, None))
        if m is None:
            _fail_syntax(src, pos, "text no Handlebars token starts with")
        text, start, pos = m.group(0), pos, m.end()
        kind = _KIND.get(rule)
        if rule == 44:
            out.append(("EOF", "", pos))
            return out
        if rule == 0:  # content before {{; \{{ escapes the mustache, \\{{ is a backslash then one
            stack.append("emu" if text.endswith("\\") and not text.endswith("\\\\") else "mu")
            text = text.removesuffix("\\")
            kind = "CONTENT" if text else None
        elif rule in (2, 6, 15, 16, 22, 29, 30):
            stack.pop()
        elif rule == 3:
            stack.append("raw")
        elif rule == 4:
            stack.pop()
            kind, text = ("CONTENT", text) if stack[-1] == "raw" else ("END_RAW_BLOCK", text[5:-4])
        elif rule == 10:
            stack[-1] = "raw"
        elif rule == 21:  # {{!-- : read again in the comment state, up to --}}
            pos, stack[-1] = start, "com"
        elif rule in (31, 32):
            text = text[1:-1].replace("\\" + text[0], text[0])
        elif rule == 42:
            text = re.sub(r"\\([\\\]])", r"\1", text)
        if kind:
            out.append((kind, text, start))


def _fail_syntax(src: str, offset: int, what: str) -> NoReturn:
    line = src.count("\n", 0, offset) + 1
    column = offset - src.rfind("\n", 0, offset)
    raise TemplateError(
        f"template syntax: {what} (line {line}, column {column})",
        code=ErrorCode.TEMPLATE_SYNTAX,
        line=line,
        column=column,
    )


def _js_number(x: float) -> str:
    """Number.prototype.toString(): the shortest digits that read back, in JavaScript's notation."""
    if math.isnan(x) or x in (math.inf, -math.inf):
        return "NaN" if math.isnan(x) else "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    mantissa, _, exp = repr(abs(x)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    point = len(whole) + int(exp or 0) - (len(digits) - len(digits.lstrip("0")))
    digits = digits.strip("0")
    k, n, sign = len(digits), point, "-" if x < 0 else ""
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = f"{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return sign + digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + e


# ---------------------------------------------------------------- parser: handlebars.yy and compiler/helpers.js
class _Path:
    __slots__ = ("bp", "data", "depth", "original", "parts", "pos", "scoped")

    def __init__(self, data: bool, depth: int, parts: list[str], original: str, pos: int) -> None:
        self.data, self.depth, self.parts, self.original, self.pos = data, depth, parts, original, pos
        self.scoped = re.search(r"^\.|this\b", original, re.ASCII) is not None
        self.bp: tuple[int, int] | None = None  # a block parameter: (programs up, index)

    def simple(self) -> bool:
        return len(self.parts) == 1 and not self.scoped and not self.depth


class _Literal:
    __slots__ = ("text", "value")

    def __init__(self, value: Any, text: str) -> None:
        self.value, self.text = value, text  # text: JavaScript's `original + ''`


class _Node:  # a mustache, sub-expression or block: path, params, hash; kind is the compiler's classifySexpr
    __slots__ = (
        "block_params",
        "close",
        "escaped",
        "hash",
        "inverse",
        "inverse_strip",
        "kind",
        "open",
        "params",
        "path",
        "pos",
        "program",
        "strip",
        "type",
    )

    def __init__(self, type_: str, path: Any, params: list[Any], hash_: dict[str, Any] | None, pos: int) -> None:
        self.type, self.path, self.params, self.hash, self.pos, self.kind = type_, path, params, hash_, pos, ""
        self.escaped, self.strip, self.open, self.close = True, (False, False), (False, False), (False, False)
        self.program: _Program | None = None
        self.inverse: _Program | None = None
        self.inverse_strip = (False, False)
        self.block_params: list[str] | None = None


class _Program:
    __slots__ = ("block_params", "body", "chained")

    def __init__(self, body: list[Any]) -> None:
        self.body, self.chained = body, False
        self.block_params: list[str] | None = None


class _Content:
    __slots__ = ("lstripped", "original", "pos", "rstripped", "value")

    def __init__(self, text: str, pos: int) -> None:
        self.original = self.value = text
        self.pos, self.lstripped, self.rstripped = pos, False, False


class _Comment:
    __slots__ = ("strip",)

    def __init__(self, strip: tuple[bool, bool]) -> None:
        self.strip = strip


_PARAM_START: Final = {"ID", "DATA", "STRING", "NUMBER", "BOOLEAN", "UNDEFINED", "NULL", "OPEN_SEXPR"}
_BUILTINS: Final = frozenset({"helperMissing", "blockHelperMissing", "each", "if", "unless", "with", "log", "lookup"})


def _flags(open_: str, close: str) -> tuple[bool, bool]:
    return open_[2:3] == "~", close[-3:-2] == "~" if len(close) >= 3 else False


class _Parser:
    def __init__(self, src: str) -> None:
        self.src, self.toks, self.i, self.depth = src, _lex(src), 0, 0

    def peek(self, k: int = 0) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def take(self, *kinds: str) -> Token:
        tok = self.peek()
        if tok[0] not in kinds:
            found = "the end of the template" if tok[0] == "EOF" else repr(tok[1])
            _fail_syntax(self.src, tok[2], f"expected {' or '.join(kinds)}, found {found}")
        self.i += 1
        return tok

    def program(self) -> _Program:
        body: list[Any] = []
        while True:
            kind, text, pos = self.peek()
            if kind == "CONTENT":
                self.i += 1
                body.append(_Content(text, pos))
            elif kind == "COMMENT":
                self.i += 1
                body.append(_Comment(_flags(text, text)))
            elif kind in ("OPEN", "OPEN_UNESCAPED"):
                body.append(self.mustache())
            elif kind in ("OPEN_BLOCK", "OPEN_INVERSE"):
                body.append(self.block())
            elif kind == "OPEN_RAW_BLOCK":
                body.append(self.raw_block())
            elif kind in ("OPEN_PARTIAL", "OPEN_PARTIAL_BLOCK"):
                _fail_syntax(self.src, pos, "partials are not supported")
            else:
                return _Program(body)

    def nest(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            _fail_syntax(self.src, pos, f"blocks nest deeper than {MAX_NESTING}")

    def head(self, type_: str, pos: int) -> _Node:
        path = self.helper_name()
        params: list[Any] = []
        hash_: dict[str, Any] | None = None
        while self.peek()[0] in _PARAM_START:
            if self.peek()[0] == "ID" and self.peek(1)[0] == "EQUALS":
                hash_ = {}
                while self.peek()[0] == "ID" and self.peek(1)[0] == "EQUALS":
                    key = _strip_brackets(self.take("ID")[1])
                    self.i += 1
                    hash_[key] = self.param()
                break
            params.append(self.param())
        return _Node(type_, path, params, hash_, pos)

    def param(self) -> Any:
        if self.peek()[0] != "OPEN_SEXPR":
            return self.helper_name()
        pos = self.take("OPEN_SEXPR")[2]
        self.nest(pos)
        node = self.head("sexpr", pos)
        self.take("CLOSE_SEXPR")
        self.depth -= 1
        return node

    def helper_name(self) -> Any:
        kind, text, pos = self.take("ID", "DATA", "STRING", "NUMBER", "BOOLEAN", "UNDEFINED", "NULL")
        if kind == "STRING":
            return _Literal(text, text)
        if kind == "NUMBER":
            return _Literal(float(text), _js_number(float(text)))
        if kind in ("BOOLEAN", "NULL", "UNDEFINED"):
            return _Literal({"true": True, "false": False, "null": None}.get(text, UNDEFINED), text)
        data = kind == "DATA"
        segments = [(self.take("ID") if data else (kind, text, pos))[1]]
        separators = [""]
        while self.peek()[0] == "SEP" and self.peek(1)[0] == "ID":
            separators.append(self.take("SEP")[1])
            segments.append(self.take("ID")[1])
        original, dig, depth = "@" if data else "", [], 0
        for sep, token in zip(separators, segments, strict=True):
            part = _strip_brackets(token)
            original += sep + part
            if part != token or part not in ("..", ".", "this"):
                dig.append(part)
            elif dig:
                _fail_syntax(self.src, pos, f"invalid path {original!r}")
            elif part == "..":
                depth += 1
        return _Path(data, depth, dig, original, pos)

    def mustache(self) -> _Node:
        kind, open_, pos = self.take("OPEN", "OPEN_UNESCAPED")
        if "*" in open_:
            _fail_syntax(self.src, pos, "decorators are not supported")
        node = self.head("mustache", pos)
        close = self.take("CLOSE_UNESCAPED" if kind == "OPEN_UNESCAPED" else "CLOSE")[1]
        node.escaped = (open_[3:4] or open_[2:3]) not in ("{", "&")
        node.strip = _flags(open_, close)
        return node

    def open_tag(self, *kinds: str) -> tuple[_Node, str]:
        kind, open_, pos = self.take(*kinds)
        if "*" in open_:
            _fail_syntax(self.src, pos, "decorators are not supported")
        self.nest(pos)
        node = self.head("block", pos)
        if self.peek()[0] == "OPEN_BLOCK_PARAMS":
            self.i += 1
            node.block_params = [_strip_brackets(self.take("ID")[1])]
            while self.peek()[0] == "ID":
                node.block_params.append(_strip_brackets(self.take("ID")[1]))
            self.take("CLOSE_BLOCK_PARAMS")
        node.open = _flags(open_, self.take("CLOSE")[1])
        return node, kind

    def block(self) -> _Node:
        node, kind = self.open_tag("OPEN_BLOCK", "OPEN_INVERSE")
        program = self.program()
        program.block_params = node.block_params
        inverse = None
        if self.peek()[0] == "INVERSE" or (kind == "OPEN_BLOCK" and self.peek()[0] == "OPEN_INVERSE_CHAIN"):
            inverse = self.inverse_chain()
        end = self.take("OPEN_ENDBLOCK")[1]
        close_name = self.helper_name()
        close = _flags(end, self.take("CLOSE")[1])
        _check_close(self.src, node, _original(close_name))
        self.depth -= 1
        return _prepare_block(node, program, inverse, close, kind == "OPEN_INVERSE")

    def inverse_chain(self) -> tuple[tuple[bool, bool], _Program, bool]:
        """`{{else}}` and its program, or `{{else if x}}` as a chained block (the inverseChain rule)."""
        if self.peek()[0] == "INVERSE":
            text = self.take("INVERSE")[1]
            return _flags(text, text), self.program(), False
        node, _ = self.open_tag("OPEN_INVERSE_CHAIN")
        program = self.program()
        program.block_params = node.block_params
        inner = None
        if self.peek()[0] in ("INVERSE", "OPEN_INVERSE_CHAIN"):
            inner = self.inverse_chain()
        block = _prepare_block(node, program, inner, inner[0] if inner else None, False)
        self.depth -= 1
        wrapper = _Program([block])
        wrapper.chained = True
        return node.open, wrapper, True

    def raw_block(self) -> _Node:
        pos = self.take("OPEN_RAW_BLOCK")[2]
        self.nest(pos)
        node = self.head("block", pos)
        self.take("CLOSE_RAW_BLOCK")
        body: list[Any] = []
        while self.peek()[0] == "CONTENT":
            body.append(_Content(self.peek()[1], self.peek()[2]))
            self.i += 1
        _check_close(self.src, node, ("s", self.take("END_RAW_BLOCK")[1]))
        self.depth -= 1
        node.program = _Program(body)
        return node


def _strip_brackets(token: str) -> str:
    return token[1:-1] if len(token) >= 2 and token[0] == "[" and token[-1] == "]" else token


def _original(name: Any) -> tuple[str, Any]:
    """A tag name as JavaScript compares it in validateClose: a path's text, or a literal's value."""
    if isinstance(name, _Path):
        return "s", name.original
    value = name.value
    kind = "s" if isinstance(value, str) else "b" if isinstance(value, bool) else "n" if value is not None else "null"
    return (kind, value) if value is not UNDEFINED else ("u", None)


def _check_close(src: str, node: _Node, close: tuple[str, Any]) -> None:
    if _original(node.path) != close:
        _fail_syntax(src, node.pos, f"{_original(node.path)[1]} doesn't match {close[1]}")


def _prepare_block(node: _Node, program: _Program, inverse: Any, close: Any, inverted: bool) -> _Node:
    """compiler/helpers.js prepareBlock: an inverse chain's first block takes the close tag's strip flags."""
    inv_program = None
    if inverse is not None:
        strip, inv_program, chained = inverse
        if chained:
            inv_program.body[0].close = close if close is not None else (False, False)
        node.inverse_strip = strip
    node.close = close if close is not None else (False, False)
    node.program, node.inverse = (inv_program, program) if inverted else (program, inv_program)
    return node


# ---------------------------------------------------------------- compiler.js: block parameters, classifySexpr
def _resolve(program: _Program, scopes: list[list[str] | None]) -> None:
    scopes = [program.block_params, *scopes]
    for node in program.body:
        if isinstance(node, _Node):
            _resolve_node(node, scopes)


def _resolve_node(node: Any, scopes: list[list[str] | None]) -> None:
    if isinstance(node, _Path):
        if not node.depth and not node.scoped:
            node.bp = _bp_index(scopes, node.parts[0] if node.parts else "")
        return
    if not isinstance(node, _Node):
        return
    for child in [node.path, *node.params, *(node.hash or {}).values()]:
        _resolve_node(child, scopes)
    if isinstance(node.path, _Literal):  # transformLiteralToPath
        node.path = _Path(False, 0, [node.path.text], node.path.text, node.pos)
        _resolve_node(node.path, scopes)
    path = node.path
    is_bp = path.simple() and path.bp is not None
    is_helper = not is_bp and (node.type == "sexpr" or bool(node.params) or node.hash is not None)
    eligible = not is_bp and (is_helper or path.simple())
    if eligible and not is_helper and path.parts[0] in _BUILTINS:
        is_helper = True
    node.kind = "helper" if is_helper else "ambiguous" if eligible else "simple"
    for child_program in (node.program, node.inverse):
        if child_program is not None:
            _resolve(child_program, scopes)


def _bp_index(scopes: list[list[str] | None], name: str) -> tuple[int, int] | None:
    for depth, params in enumerate(scopes):
        if params and name in params:
            return depth, params.index(name)
    return None
