"""handlebars.js 4.7's whitespace control (compiler/whitespace-control.js), ported rule for rule.

``~`` in a tag removes the whitespace beside it; a block, ``{{else}}`` or comment tag alone on
its line (a standalone tag) removes that line's indentation and line break.
"""

from __future__ import annotations

import re
from typing import Any, Final

from ._syntax import _W, _Comment, _Content, _Node, _Program

_PREV_WS: Final = re.compile(f"\\r?\\n{_W}*?\\Z"), re.compile(f"(?:^|\\r?\\n){_W}*?\\Z")
_NEXT_WS: Final = re.compile(f"^{_W}*?\\r?\\n"), re.compile(f"^{_W}*?(?:\\r?\\n|\\Z)")


def _ws_program(program: _Program, is_root: bool) -> None:
    body = program.body
    for i, node in enumerate(body):
        if isinstance(node, _Content):
            continue
        if isinstance(node, _Comment):
            open_, close, open_sa, close_sa, inline_sa = node.strip[0], node.strip[1], False, False, True
        elif node.type == "mustache":
            open_, close, open_sa, close_sa, inline_sa = node.strip[0], node.strip[1], False, False, False
        else:
            open_, close, open_sa, close_sa = _ws_block(node)
            inline_sa = False
        prev_ws, next_ws = _prev_ws(body, i, is_root), _next_ws(body, i, is_root)
        if close:
            _omit_right(body, i, True)
        if open_:
            _omit_left(body, i, True)
        if inline_sa and prev_ws and next_ws:
            _omit_right(body, i)
            _omit_left(body, i)
        if open_sa and prev_ws:
            _omit_right((node.program or node.inverse).body, None)
            _omit_left(body, i)
        if close_sa and next_ws:
            _omit_right(body, i)
            _omit_left((node.inverse or node.program).body, None)


def _ws_block(block: _Node) -> tuple[bool, bool, bool, bool]:
    for child in (block.program, block.inverse):
        if child is not None:
            _ws_program(child, False)
    program = block.program or block.inverse
    assert program is not None
    inverse = block.inverse if block.program else None
    first = last = inverse
    if inverse is not None and inverse.chained:
        first = inverse.body[0].program
        while last is not None and last.chained:
            last = last.body[-1].program
    strip = (block.open[0], block.close[1], bool(_next_ws(program.body)), bool(_prev_ws((first or program).body)))
    if block.open[1]:
        _omit_right(program.body, None, True)
    if inverse is not None and first is not None and last is not None:
        if block.inverse_strip[0]:
            _omit_left(program.body, None, True)
        if block.inverse_strip[1]:
            _omit_right(first.body, None, True)
        if block.close[0]:
            _omit_left(last.body, None, True)
        if _prev_ws(program.body) and _next_ws(first.body):
            _omit_left(program.body, None)
            _omit_right(first.body, None)
    elif block.close[0]:
        _omit_left(program.body, None, True)
    return strip


def _prev_ws(body: list[Any], i: int | None = None, is_root: bool = False) -> bool | None:
    i = len(body) if i is None else i
    if i < 1:
        return is_root
    prev = body[i - 1]
    if isinstance(prev, _Content):
        return _PREV_WS[0 if i >= 2 or not is_root else 1].search(prev.original) is not None
    return None


def _next_ws(body: list[Any], i: int | None = None, is_root: bool = False) -> bool | None:
    i = -1 if i is None else i
    if i + 1 >= len(body):
        return is_root
    nxt = body[i + 1]
    if isinstance(nxt, _Content):
        return _NEXT_WS[0 if i + 2 < len(body) or not is_root else 1].search(nxt.original) is not None
    return None


def _omit_right(body: list[Any], i: int | None, multiple: bool = False) -> None:
    j = 0 if i is None else i + 1
    node = body[j] if j < len(body) else None
    if not isinstance(node, _Content) or (not multiple and node.rstripped):
        return
    old = node.value
    node.value = re.sub(f"^{_W}+" if multiple else r"^[ \t]*\r?\n?", "", old, count=1)
    node.pos += len(old) - len(node.value)
    node.rstripped = node.value != old


def _omit_left(body: list[Any], i: int | None, multiple: bool = False) -> None:
    j = len(body) - 1 if i is None else i - 1
    node = body[j] if j >= 0 else None
    if not isinstance(node, _Content) or (not multiple and node.lstripped):
        return
    old = node.value
    node.value = re.sub(f"{_W}+\\Z" if multiple else r"[ \t]+\Z", "", old, count=1)
    node.lstripped = node.value != old
