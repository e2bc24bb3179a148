"""The behaviour of a compiled handlebars.js 4.7 template: JavaScript's values, paths, helpers, output.

A run writes pieces: each is the template's text or a data value's, with the data path it prints
(``recipient.name``, ``organs.2``), so that the credential can be read from them structurally.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, NoReturn

from ..codes import ErrorCode
from ..errors import TemplateError, TemplateValueError
from ._syntax import (
    _BUILTINS,
    _W,
    MAX_NESTING,
    UNDEFINED,
    _Comment,
    _Content,
    _fail_syntax,
    _js_number,
    _Literal,
    _Node,
    _Path,
    _Program,
)

MAX_OUTPUT_CHARS: Final = 4 << 20  # rendered text
MAX_STEPS: Final = 1_000_000  # statements run and items iterated in one render
Helper = Callable[..., Any]
_NULL_CONTEXT: Final[Mapping[str, Any]] = MappingProxyType({})  # a helper's `this` when the context is null


# ---------------------------------------------------------------- JavaScript values
def _truthy(v: Any) -> bool:
    if v is None or v is UNDEFINED or v is False:
        return False
    if isinstance(v, float):
        return not math.isnan(v) and v != 0  # NaN and 0 are falsy
    if isinstance(v, int):
        return v != 0
    return v != "" if isinstance(v, str) else True


def _is_empty(v: Any) -> bool:  # utils.js isEmpty
    zero = isinstance(v, (int, float)) and not isinstance(v, bool) and v == 0
    return (not _truthy(v) and not zero) or (isinstance(v, (list, tuple)) and not v)


def _js_string(v: Any, depth: int = 0) -> str:
    """ToString, as `'' + value` and Array.prototype.join print JSON data."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None or v is UNDEFINED:
        return "null" if v is None else "undefined"
    if isinstance(v, int):
        if -(2**53) <= v <= 2**53:
            return str(v)
        try:
            return _js_number(float(v))
        except OverflowError:
            return "Infinity" if v > 0 else "-Infinity"
    if isinstance(v, float):
        return _js_number(v)
    if isinstance(v, (list, tuple)):
        if depth > 4 * MAX_NESTING:
            raise TemplateValueError(f"arrays nest deeper than {4 * MAX_NESTING}")
        return ",".join("" if x is None or x is UNDEFINED else _js_string(x, depth + 1) for x in v)
    if isinstance(v, Mapping):
        return "[object Object]"
    raise TemplateValueError(f"a {type(v).__name__} is not JSON data")


_HTML: Final = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;", "`": "&#x60;", "=": "&#x3D;"}
)


def _escape(v: Any) -> str:  # utils.js escapeExpression
    if v is None or v is UNDEFINED:
        return ""
    return _js_string(v).translate(_HTML)


def _text(v: Any) -> str:  # what `buffer += value` appends, for {{{ }}}, {{& }} and blocks
    return "" if v is None or v is UNDEFINED else _js_string(v)


_INDEX: Final = re.compile(r"0|[1-9][0-9]*\Z")


def _lookup(parent: Any, name: str) -> Any:
    """container.lookupProperty: own properties only (keys; an array's or string's indices and length)."""
    if isinstance(parent, Mapping):
        return parent.get(name, UNDEFINED)
    if isinstance(parent, (list, tuple, str)):
        units: Any = parent
        if isinstance(parent, str) and not parent.isascii() and max(parent) > "\uffff":
            units = _utf16_units(parent)
        if name == "length":
            return len(units)
        if _INDEX.fullmatch(name) and int(name) < len(units):
            return units[int(name)]
    return UNDEFINED


_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def js_text(s: str) -> str:
    """A string as JavaScript holds it: UTF-16, where a lone high and low surrogate side by side are one character."""
    if not _SURROGATE.search(s):
        return s
    return s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _utf16_units(s: str) -> list[str]:
    raw = s.encode("utf-16-le", "surrogatepass")
    return [raw[i : i + 2].decode("utf-16-le", "surrogatepass") for i in range(0, len(raw), 2)]


def _js_key(v: Any) -> str:
    return v if isinstance(v, str) else _js_string(v)


def _js_keys(obj: Mapping[str, Any]) -> list[str]:
    """Object.keys order: integer keys ascending, then the others as inserted."""
    ints = [k for k in obj if isinstance(k, str) and _INDEX.fullmatch(k) and int(k) < 2**32 - 1]
    if not ints:
        return list(obj)
    chosen = set(ints)
    return sorted(ints, key=int) + [k for k in obj if k not in chosen]


_JS_NUM: Final = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\Z")


def _js_to_number(s: str) -> float:
    s = re.sub(f"^{_W}+|{_W}+\\Z", "", s)
    if not s:
        return 0.0
    if _JS_NUM.match(s):
        return float(s.replace("Infinity", "inf"))
    for prefix, base in (("0x", 16), ("0o", 8), ("0b", 2)):
        if s[:2].lower() == prefix:
            try:
                return float(int(s[2:], base))
            except ValueError:
                return math.nan
    return math.nan


def _loose_eq(a: Any, b: Any) -> bool:
    """JavaScript's `a == b` (wrapProgram compares a new context with the current one so)."""
    if a is None or a is UNDEFINED or b is None or b is UNDEFINED:
        return (a is None or a is UNDEFINED) and (b is None or b is UNDEFINED)
    objects = (Mapping, list, tuple)
    if isinstance(a, objects) and isinstance(b, objects):
        return a is b
    try:
        a, b = (_js_string(x) if isinstance(x, objects) else x for x in (a, b))
    except TemplateValueError:
        return False
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    x, y = (_js_to_number(v) if isinstance(v, str) else v for v in (a, b))
    return bool(x == y)


# ---------------------------------------------------------------- runtime: the compiled template's behaviour
Piece = tuple[str, str | None, int]  # text, the data path it prints (None: the template's text), offset


class _Raw:
    """A value not yet text: a number, boolean, array or object an unescaped tag or a block gave.

    handlebars.js joins a program's output with JavaScript's ``+`` as its compiled code groups it,
    so two such numbers side by side add up (``{{{a}}}{{{b}}}`` with 1 and 2 prints 3).
    """

    __slots__ = ("field", "pos", "value")

    def __init__(self, value: Any, field: str, pos: int) -> None:
        self.value, self.field, self.pos = value, field, pos


Value = list[Piece] | _Raw  # text (pieces) or a raw value


class _Scope:
    __slots__ = ("bps", "ctx", "data", "depths", "path")

    def __init__(self, ctx: Any, path: str, depths: list[tuple[Any, str]], data: Any, bps: tuple[Any, ...]) -> None:
        self.ctx, self.path, self.depths, self.data, self.bps = ctx, path, depths, data, bps

    def this(self) -> Any:  # a helper's `this`: the context, or an empty object for null
        return _NULL_CONTEXT if self.ctx is None or self.ctx is UNDEFINED else self.ctx


def _join(base: str, part: str) -> str:
    return f"{base}.{part}" if base else part


def _double(v: float) -> float:
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def _addable(v: Any) -> bool:  # a primitive + adds as a number: JSON's numbers and booleans
    return isinstance(v, (int, float)) and not isinstance(v, str)


class _Run:
    def __init__(self, src: str, helpers: Mapping[str, Helper]) -> None:
        self.src, self.helpers = src, helpers
        self.size = self.steps = 0

    def fail(self, pos: int, what: str) -> NoReturn:
        _fail_syntax(self.src, pos, what)

    def tick(self, field: str) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TemplateError(
                f"template: rendering {field or 'the template'} takes more than {MAX_STEPS} steps",
                code=ErrorCode.TEMPLATE_DATA,
                field=field,
                limit=MAX_STEPS,
            )

    def piece(self, text: str, field: str | None, pos: int) -> list[Piece]:
        self.size += len(text)
        if self.size > MAX_OUTPUT_CHARS:
            raise TemplateError(
                f"template: the output is longer than {MAX_OUTPUT_CHARS} characters",
                code=ErrorCode.TEMPLATE_DATA,
                field=field or "",
                limit=MAX_OUTPUT_CHARS,
            )
        return [(text, field, pos)]

    def text(self, value: Value) -> list[Piece]:
        if isinstance(value, list):
            return value
        try:
            return self.piece(_js_string(value.value), value.field, value.pos)
        except TemplateValueError as error:
            raise TemplateError(
                f"template data: {value.field}: {error}", code=ErrorCode.TEMPLATE_DATA, field=value.field
            ) from None

    def plus(self, left: Value, right: Value) -> Value:
        """JavaScript's `left + right`, left's pieces extended in place."""
        if isinstance(left, _Raw) and isinstance(right, _Raw) and _addable(left.value) and _addable(right.value):
            return _Raw(_double(left.value) + _double(right.value), left.field, left.pos)
        left = self.text(left) if isinstance(left, list) else list(self.text(left))
        left.extend(self.text(right))
        return left

    def value(self, v: Any, field: str, pos: int) -> Value | None:
        """A helper's or path's result as the compiled code holds it; None for null and undefined."""
        if v is None or v is UNDEFINED:
            return None
        return self.piece(v, field, pos) if isinstance(v, str) else _Raw(v, field, pos)

    def line(self, node: Any, sc: _Scope) -> tuple[bool, Value | None] | None:
        """One statement of a program: (whether it is an append the compiler joins with +, its value)."""
        self.tick(sc.path)
        if isinstance(node, _Content):
            return (True, self.piece(node.value, None, node.pos)) if node.value else None
        if isinstance(node, _Comment):
            return None
        if node.type == "mustache":
            v, field = self.sexpr(node, sc)
            if node.escaped:
                try:
                    return True, self.piece(_escape(v), field, node.pos)
                except TemplateValueError as error:
                    raise TemplateError(
                        f"template data: {field}: {error}", code=ErrorCode.TEMPLATE_DATA, field=field
                    ) from None
            return True, self.value(v, field, node.pos) or self.piece("", field, node.pos)
        result = self.block(node, sc)
        if node.kind == "ambiguous":  # compiled as statements: `if (stack1 != null) buffer += stack1`
            return False, result
        return True, result if result is not None else []

    def run(self, program: _Program, sc: _Scope) -> Value:
        """A program's result, grouped as javascript-compiler.js's mergeSource writes it."""
        if len(program.body) == 1:
            line = self.line(program.body[0], sc)
            return (line[1] if line else None) or []
        buffer: Value | None = None  # var buffer: a first run of appends, or ""
        pending: list[Value] = []  # appends since the last statement
        statements = False
        for node in program.body:
            line = self.line(node, sc)
            if line is None:
                continue
            if line[0]:
                assert line[1] is not None
                pending.append(line[1])
                continue
            if pending:  # `buffer = a + b` first, else `buffer += a + b`: the run adds up before buffer
                run = pending[0]
                for item in pending[1:]:
                    run = self.plus(run, item)
                buffer = run if not statements else self.plus(buffer or [], run)
                pending = []
            statements = True
            buffer = buffer if buffer is not None else []
            if line[1] is not None:
                buffer = self.plus(buffer, line[1])
        if not statements:  # `return a + b + ...`
            result: Value = pending.pop(0) if pending else []
        else:  # `return buffer + a + b + ...`
            result = buffer if buffer is not None else []
        for item in pending:
            result = self.plus(result, item)
        return result

    def invoke(
        self,
        program: _Program | None,
        sc: _Scope,
        ctx: Any,
        path: str,
        data: Any = None,
        bp: list[tuple[Any, str]] | None = None,
    ) -> Value:
        """runtime.js wrapProgram: a new context is a new `../` level unless it equals the current one."""
        if program is None:
            return []
        depths, top = sc.depths, sc.depths[0][0]
        if not _loose_eq(ctx, top) and not (ctx is _NULL_CONTEXT and top is None):
            depths = [(ctx, path), *depths]
        return self.run(program, _Scope(ctx, path, depths, sc.data if data is None else data, (bp, *sc.bps)))

    def path(self, p: _Path, sc: _Scope, falsy: bool = False) -> tuple[Any, str]:
        if p.bp is not None:
            depth, index = p.bp
            entry = sc.bps[depth] if depth < len(sc.bps) else None
            if entry is None:
                self.fail(p.pos, f"block parameter {p.parts[0]!r} has no value here")
            value, field = entry[index] if index < len(entry) else (UNDEFINED, p.parts[0])
            return self.dig(value, field, p.parts[1:], False)
        if p.data:
            frame = sc.data
            for _ in range(p.depth):
                if not _truthy(frame):
                    break
                frame = _lookup(frame, "_parent")
            return self.dig(frame, "@", p.parts, True)[0], p.original
        if not p.depth:
            value, field = sc.ctx, sc.path
        else:
            value, field = sc.depths[p.depth] if p.depth < len(sc.depths) else (UNDEFINED, p.original)
        return self.dig(value, field, p.parts, falsy)

    @staticmethod
    def dig(value: Any, field: str, parts: list[str], falsy: bool) -> tuple[Any, str]:
        for part in parts:
            if not _truthy(value) if falsy else value is None or value is UNDEFINED:
                break
            value, field = _lookup(value, part), _join(field, part)
        return value, field

    def param(self, p: Any, sc: _Scope) -> tuple[Any, str]:
        if isinstance(p, _Literal):
            return p.value, p.text
        return self.path(p, sc) if isinstance(p, _Path) else self.sexpr(p, sc)

    def args(self, node: _Node, sc: _Scope) -> tuple[list[tuple[Any, str]], dict[str, Any]]:
        hash_ = {key: self.param(value, sc)[0] for key, value in (node.hash or {}).items()}
        return [self.param(p, sc) for p in node.params], hash_

    def call(self, helper: Helper, node: _Node, sc: _Scope, name: str) -> tuple[Any, str]:
        args, hash_ = self.args(node, sc)
        field = args[0][1] if args else name
        try:
            return helper(*(a[0] for a in args), **hash_), field
        except ValueError as error:  # a helper's way to refuse a value
            raise TemplateError(f"template data: {field}: {error}", code=ErrorCode.TEMPLATE_DATA, field=field) from None

    def sexpr(self, node: _Node, sc: _Scope) -> tuple[Any, str]:
        """A mustache's or sub-expression's value: a path, a helper's result, or helperMissing's undefined."""
        path = node.path
        if node.kind == "simple":
            return self.path(path, sc)
        name = path.parts[0] if path.parts else ""
        if node.kind == "ambiguous":
            if name in self.helpers:
                return self.call(self.helpers[name], node, sc, name)
            value, field = self.path(path, sc)
            return (UNDEFINED if value is None else value), field
        if name in _BUILTINS:
            return self.builtin(name, node, sc)
        if path.simple() and name in self.helpers:
            return self.call(self.helpers[name], node, sc, name)
        return self.missing(node, sc)

    def missing(self, node: _Node, sc: _Scope) -> tuple[Any, str]:
        if _truthy(self.path(node.path, sc, True)[0]):
            self.fail(node.pos, f"{node.path.original!r} is data, not a helper")
        if node.params:
            self.fail(node.pos, f"missing helper {node.path.original!r}")
        return UNDEFINED, node.path.original

    def block(self, node: _Node, sc: _Scope) -> Value | None:
        path = node.path
        name = path.parts[0] if path.parts else ""
        if node.kind == "simple" or (node.kind == "ambiguous" and name not in self.helpers):
            value, field = self.path(path, sc)
            return self.block_helper_missing(node, sc, value, field, sc.ctx)
        if node.kind == "helper" and name in _BUILTINS and name not in ("lookup", "log"):
            return self.block_helper(name, node, sc)
        if node.kind == "helper" and name in _BUILTINS:
            value, field = self.builtin(name, node, sc)
        elif name in self.helpers and path.simple():
            value, field = self.call(self.helpers[name], node, sc, name)
        else:
            value, field = self.missing(node, sc)
        return self.value(value, field, node.pos)

    def block_helper_missing(self, node: _Node, sc: _Scope, value: Any, field: str, this: Any) -> Value:
        if value is True:
            return self.invoke(node.program, sc, this, sc.path)
        if value is False or value is None or value is UNDEFINED:
            return self.invoke(node.inverse, sc, this, sc.path)
        if isinstance(value, (list, tuple)):
            return self.each(node, sc, value, field, this) if value else self.invoke(node.inverse, sc, this, sc.path)
        return self.invoke(node.program, sc, value, field)

    def each(self, node: _Node, sc: _Scope, value: Any, field: str, this: Any) -> Value:
        if isinstance(value, (list, tuple)):
            items: list[tuple[Any, Any]] = list(enumerate(value))
        elif isinstance(value, Mapping):
            items = [(key, value[key]) for key in _js_keys(value)]
        else:
            items = []
        out: list[Piece] = []  # ret = ret + fn(...), from ''
        for index, (key, item) in enumerate(items):
            self.tick(field)
            last = index == len(items) - 1
            frame = {**sc.data, "_parent": sc.data, "key": key, "index": index, "first": index == 0, "last": last}
            item_field = _join(field, str(key))
            bp = [(item, item_field), (key, "@key")]
            out.extend(self.text(self.invoke(node.program, sc, item, item_field, frame, bp)))
        return out if items else self.invoke(node.inverse, sc, this, sc.path)

    def builtin(self, name: str, node: _Node, sc: _Scope) -> tuple[Any, str]:
        """The helpers that give a value (lookup, log), with handlebars.js's checks on their arguments."""
        if name not in ("lookup", "log"):
            if name in ("helperMissing", "blockHelperMissing"):  # hooks in 4.7, no longer helpers to call
                self.fail(node.pos, f"{name} is not a helper")
            self.fail(node.pos, f"{name} is a block helper: {{{{#{name}}}}} ... {{{{/{name}}}}}")
        args, _ = self.args(node, sc)
        if name == "log":
            return UNDEFINED, name
        value, field = args[0] if args else (UNDEFINED, name)
        if args and not _truthy(value):
            return value, field
        if len(args) != 2:
            self.fail(node.pos, "lookup takes an object and a key")
        key = _js_key(args[1][0])
        return _lookup(value, key), _join(field, key)

    def block_helper(self, name: str, node: _Node, sc: _Scope) -> Value:
        """The block helpers each, if, unless and with."""
        if name in ("helperMissing", "blockHelperMissing"):
            self.fail(node.pos, f"{name} is not a helper")
        args, hash_ = self.args(node, sc)
        if len(args) != 1:
            self.fail(node.pos, f"#{name} takes exactly one argument")
        value, field = args[0]
        if name == "each":
            return self.each(node, sc, value, field, sc.this())
        if name == "with":
            if _is_empty(value):
                return self.invoke(node.inverse, sc, sc.this(), sc.path)
            return self.invoke(node.program, sc, value, field, None, [(value, field)])
        include_zero = _truthy(hash_.get("includeZero", UNDEFINED))
        falsy = (not include_zero and not _truthy(value)) or _is_empty(value)
        return self.invoke(node.inverse if falsy == (name == "if") else node.program, sc, sc.this(), sc.path)
