"""QR symbols: a payload in a segno symbol at ECC M or Q, its mask chosen by the ISO/IEC 18004 penalty, PNG and SVG.

Symbols: error correction M by default, Q when the symbol still fits in version 25 (never a
silent drop to L); a credential that does not fit at all is an error that gives its size.
segno builds the symbols. Its own mask selection scores eight masked copies module by module in
pure Python (about 70 of 90 ms for a version-23 symbol); :func:`make` asks segno for the symbol
with mask 0 and chooses the mask itself: the eight candidates, each with its format information
(as ZXing's and Nayuki's encoders score them), get the ISO/IEC 18004 penalty (N1 runs, N2
blocks, N3 finder-like patterns, N4 balance) computed on the whole symbol packed into two big
integers, by rows and by columns, so each rule is a few integer operations (about 0.2 ms a
mask). The chosen candidate is the symbol segno makes with that mask, module for module (a
test checks every mask); the choice is the lowest penalty, as the standard asks.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import segno
from segno import consts as _segno_consts

from ..codes import ErrorCode
from ..errors import QRError
from .formats import QRFormat, encode_text

__all__ = [
    "Q_UP_TO_VERSION",
    "QRErrorCorrection",
    "Symbol",
    "make",
]


class QRErrorCorrection(StrEnum):
    """A QR error correction level (ISO/IEC 18004): how much of a symbol may be lost and still read.

    The standard has four; vccore makes symbols at M and Q only (see :func:`make`).
    """

    L = "L"
    """About 7% of the symbol."""
    M = "M"
    """About 15%."""
    Q = "Q"
    """About 25%."""
    H = "H"
    """About 30%."""


Q_UP_TO_VERSION: Final = 25


@dataclass(frozen=True, slots=True)
class Symbol:
    """A QR symbol for a credential, and how it was made."""

    qr: segno.QRCode
    format: QRFormat
    text: str
    """The payload (what :func:`decode_text` reads back)."""

    @property
    def version(self) -> int:
        """The QR version (1-40): the symbol is 17 + 4 x version modules a side."""
        return int(self.qr.version)

    @property
    def ecc(self) -> QRErrorCorrection:
        """The error correction level the symbol was made at."""
        return QRErrorCorrection(str(self.qr.error).upper())

    def save(self, path: str | Path, *, scale: float | None = None) -> Path:
        """Write PNG or SVG (by the file's suffix), with the four-module quiet zone the standard
        asks for. The PNG has 6 px modules (0.5 mm at 300 dpi); the SVG is sized in millimetres,
        0.5 mm a module by default (``scale``: millimetres a module), with a viewBox, so that it
        prints at that size and scales cleanly.
        """
        target = Path(path)
        suffix = target.suffix.lower()
        if suffix == ".png":
            self.qr.save(str(target), kind="png", scale=scale or 6, border=4)
        elif suffix == ".svg":
            self.qr.save(
                str(target), kind="svg", scale=scale or 0.5, unit="mm", border=4, xmldecl=False, svgns=True, nl=False
            )
        else:
            raise QRError(f"{target.name}: write .png or .svg", code=ErrorCode.QR_MALFORMED, path=str(target))
        return target

    def png(self, *, scale: int = 6) -> bytes:
        """The PNG that :meth:`save` writes, as bytes."""
        out = io.BytesIO()
        self.qr.save(out, kind="png", scale=scale, border=4)
        return out.getvalue()

    def svg_document(self) -> str:
        """The SVG file that :meth:`save` writes, as text."""
        out = io.BytesIO()
        self.qr.save(out, kind="svg", scale=0.5, unit="mm", border=4, xmldecl=False, svgns=True, nl=False)
        return out.getvalue().decode("utf-8")

    def svg(self) -> str:
        """The symbol as an inline SVG element (for HTML)."""
        out = io.BytesIO()
        self.qr.save(out, kind="svg", scale=1, border=4, xmldecl=False, svgns=True, nl=False, omitsize=True)
        return out.getvalue().decode("utf-8")


def make(
    credential: Mapping[str, Any] | str,
    *,
    format: QRFormat | str = QRFormat.COMPACT,
    ecc: QRErrorCorrection | str | None = None,
) -> Symbol:
    """The QR symbol of a credential. ``format``: a :class:`QRFormat` it writes, or its value.
    ``ecc``: :attr:`~QRErrorCorrection.M` or :attr:`~QRErrorCorrection.Q` (or ``"M"``, ``"Q"``,
    in either case); by default Q when the symbol fits in version 25, else M. QRError
    ``QR_TOO_LARGE`` when it does not fit at all.
    """
    text = encode_text(credential, format)
    kind = QRFormat(format)
    mode = "alphanumeric" if kind is QRFormat.COMPACT else "byte"
    if ecc is None:
        ecc = QRErrorCorrection.Q if _fits(text, mode, QRErrorCorrection.Q, Q_UP_TO_VERSION) else QRErrorCorrection.M
    wanted = ecc.upper()  # a plain str, from a member too
    if wanted not in (QRErrorCorrection.M, QRErrorCorrection.Q):
        raise QRError(
            f"error correction {wanted!r}: vccore makes M or Q (L is too weak for a printed credential)",
            code=ErrorCode.QR_MALFORMED,
            ecc=wanted,
        )
    level = QRErrorCorrection(wanted)
    if not _fits(text, mode, level, 40):
        size = len(text.encode("utf-8")) if mode == "byte" else len(text)
        raise QRError(
            f"the credential does not fit in a QR code at ECC {level}: its {kind} payload is {size:,} "
            f"{'bytes' if mode == 'byte' else 'characters'} (the largest symbol, version 40, holds "
            f"{_capacity(mode, level):,}); use the compact format, M, or a smaller credential",
            code=ErrorCode.QR_TOO_LARGE,
            characters=size,
            ecc=level,
            format=kind,
        )
    qr = segno.make(
        text,
        error=level.lower(),
        mode=mode,
        encoding="utf-8" if mode == "byte" else None,
        mask=0,
        boost_error=False,
        micro=False,
    )
    _apply_best_mask(qr)
    return Symbol(qr, kind, text)


_ERROR_LEVEL: Final[dict[str, int]] = {
    QRErrorCorrection.L: _segno_consts.ERROR_LEVEL_L,
    QRErrorCorrection.M: _segno_consts.ERROR_LEVEL_M,
    QRErrorCorrection.Q: _segno_consts.ERROR_LEVEL_Q,
    QRErrorCorrection.H: _segno_consts.ERROR_LEVEL_H,
}
# ISO/IEC 18004 table 7: the data bits of each version (1-40) at each error level, from segno
_CAPACITY: Any = _segno_consts.SYMBOL_CAPACITY
_DATA_BITS: Final[dict[int, dict[int, int]]] = {
    v: {int(k): int(b) for k, b in _CAPACITY[v].items()} for v in range(1, 41)
}

# The length of the character count field (ISO/IEC 18004 table 3), by mode and version range.
_COUNT_BITS: Final = {"alphanumeric": (9, 11, 13), "byte": (8, 16, 16)}


def _bits(text: str, mode: str, version: int) -> int:
    count = _COUNT_BITS[mode][0 if version <= 9 else 1 if version <= 26 else 2]
    if mode == "alphanumeric":
        return 4 + count + 11 * (len(text) // 2) + 6 * (len(text) % 2)
    return 4 + count + 8 * len(text.encode("utf-8"))


def _capacity(mode: str, ecc: str) -> int:
    bits = _DATA_BITS[40][_ERROR_LEVEL[ecc]] - 4 - _COUNT_BITS[mode][2]
    return bits // 8 if mode == "byte" else bits // 11 * 2


def _fits(text: str, mode: str, ecc: str, version: int) -> bool:
    """Whether the text fits in a symbol of at most ``version`` at ``ecc`` (a version's data
    capacity from segno's table of ISO/IEC 18004 table 7).
    """
    level = _ERROR_LEVEL[ecc]
    return any(_bits(text, mode, v) <= _DATA_BITS[v][level] for v in range(1, version + 1))


# --- masks (ISO/IEC 18004:2015 section 7.8) --------------------------------------------------------

_MASKS: Final[tuple[Callable[[int, int], bool], ...]] = (
    lambda i, j: (i + j) % 2 == 0,
    lambda i, j: i % 2 == 0,
    lambda i, j: j % 3 == 0,
    lambda i, j: (i + j) % 3 == 0,
    lambda i, j: (i // 2 + j // 3) % 2 == 0,
    lambda i, j: (i * j) % 2 + (i * j) % 3 == 0,
    lambda i, j: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
    lambda i, j: ((i + j) % 2 + (i * j) % 3) % 2 == 0,
)


# A symbol is scored as two big integers: its rows, and its columns, one after the other with
# four light modules between them (and around them), so that each penalty rule is a few
# operations over the whole symbol. Bit order does not matter to the rules (runs, blocks, and
# a palindromic pattern); every packed value below is made by the same function.
_GAP: Final = "0000"


def _pack(lines: list[str]) -> int:
    """Lines of "0"/"1" characters as one integer, with the gaps."""
    return int(_GAP + _GAP.join(lines) + _GAP, 2)


def _lines(grid: list[list[bool]]) -> tuple[int, int]:
    """A grid of flags packed by rows and by columns."""
    rows = ["".join("1" if flag else "0" for flag in row) for row in grid]
    return _pack(rows), _pack(["".join(column) for column in zip(*rows, strict=True)])


@dataclass(frozen=True, slots=True)
class _Layout:
    """What masking a symbol of one version needs, packed by rows and by columns."""

    size: int
    modules: tuple[int, int]  # every module (the gaps excluded)
    data: tuple[int, int]  # the modules a mask applies to
    masks: tuple[tuple[int, int], ...]  # each mask pattern, within the data modules
    format_cells: tuple[int, int]  # the 30 modules of the two copies of the format information
    format_positions: tuple[tuple[tuple[int, int], tuple[int, int]], ...]


@lru_cache(maxsize=64)
def _layout(version: int) -> _Layout:
    size = 17 + 4 * version
    function = [[False] * size for _ in range(size)]

    def mark(top: int, left: int, height: int, width: int) -> None:
        for i in range(max(top, 0), min(top + height, size)):
            for j in range(max(left, 0), min(left + width, size)):
                function[i][j] = True

    # finder patterns with their separators and the format information next to them (9 x 9 at
    # the top left, 9 x 8 and 8 x 9 at the other two corners; the dark module is among them)
    mark(0, 0, 9, 9)
    mark(0, size - 8, 9, 8)
    mark(size - 8, 0, 8, 9)
    mark(6, 0, 1, size)  # timing patterns
    mark(0, 6, size, 1)
    if version >= 2:
        centers = _segno_consts.ALIGNMENT_POS[version - 2]
        for r in centers:
            for c in centers:
                if (r, c) in ((6, 6), (6, centers[-1]), (centers[-1], 6)):
                    continue  # where the finder patterns are
                mark(r - 2, c - 2, 5, 5)
    if version >= 7:  # version information
        mark(0, size - 11, 6, 3)
        mark(size - 11, 0, 3, 6)
    data = [[not cell for cell in row] for row in function]
    masks = tuple(_lines([[data[i][j] and mask(i, j) for j in range(size)] for i in range(size)]) for mask in _MASKS)
    positions = _format_positions(size)
    cells = {cell for pair in positions for cell in pair}
    return _Layout(
        size,
        _lines([[True] * size for _ in range(size)]),
        _lines(data),
        masks,
        _lines([[(i, j) in cells for j in range(size)] for i in range(size)]),
        tuple(positions),
    )


@lru_cache(maxsize=512)
def _format_packed(version: int, ecc_level: int, mask: int) -> tuple[int, int]:
    """The format information of ``mask`` in its 30 modules, packed by rows and by columns."""
    layout = _layout(version)
    bits = _format_bits(ecc_level, mask)
    on = {cell for k, pair in enumerate(layout.format_positions) if bits >> k & 1 for cell in pair}
    return _lines([[(i, j) in on for j in range(layout.size)] for i in range(layout.size)])


def _format_bits(ecc_level: int, mask: int) -> int:
    """The 15 format information bits (BCH(15,5), then XOR 101010000010010)."""
    data = ecc_level << 3 | mask
    remainder = data
    for _ in range(10):
        remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537)
    return (data << 10 | (remainder & 0x3FF)) ^ 0x5412


def _format_positions(size: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Where format bit ``k`` goes, twice: [(row, column) of the first copy, of the second]."""
    first = [(i, 8) for i in range(6)] + [(7, 8), (8, 8), (8, 7)] + [(8, 14 - k) for k in range(9, 15)]
    second = [(8, size - 1 - k) for k in range(8)] + [(size - 15 + k, 8) for k in range(8, 15)]
    return list(zip(first, second, strict=True))


_TO_DIGITS: Final = bytes.maketrans(b"\x00\x01", b"01")
_FROM_DIGITS: Final = bytes.maketrans(b"01", b"\x00\x01")


def _penalty(packed: int, modules: int, stride: int, area: int) -> int:
    """The ISO/IEC 18004 penalty of one direction of a symbol (packed rows, or packed columns):
    N1 (runs of five or more: 3, and one more for each module beyond), N2 (3 for each 2 x 2
    block of one colour, counted once, on rows only), N3 (40 for each 1:1:3:1:1 pattern with
    four light modules on a side; outside the symbol is light) and N4 (10 for each 5% away from
    half dark, on rows only): ``area`` is the number of modules, 0 for the column direction.
    """
    score = 0
    light = ~packed & modules
    for colour in (packed, light):
        run = colour & colour >> 1 & colour >> 2 & colour >> 3 & colour >> 4  # five from here
        score += run.bit_count() + 2 * (run & ~(run >> 1)).bit_count()  # (L - 4) + 2 per run
    x = packed
    finder = x & ~(x >> 1) & x >> 2 & x >> 3 & x >> 4 & ~(x >> 5) & x >> 6  # 1011101 from here
    if finder:
        after = ~(x >> 7 | x >> 8 | x >> 9 | x >> 10)
        before = ~(x << 1 | x << 2 | x << 3 | x << 4)
        score += 40 * (finder & (after | before)).bit_count()
    if area:
        for colour in (packed, light):
            pairs = colour & colour >> stride  # this row and the next
            score += 3 * (pairs & pairs >> 1).bit_count()
        dark = packed.bit_count()
        score += 10 * int(abs(dark * 100 / area - 50) // 5)
    return score


def _apply_best_mask(qr: segno.QRCode) -> None:
    """Give a symbol made with mask 0 the mask with the lowest penalty (ties: the lower number),
    and that mask's format information.
    """
    size = len(qr.matrix)
    layout = _layout(int(qr.version))
    stride = size + len(_GAP)
    unmasked = _unmasked(qr)
    best: tuple[int, int, int] | None = None
    for mask in range(8):
        rows, columns = _masked(qr, unmasked, mask)
        score = _penalty(rows, layout.modules[0], stride, size * size) + _penalty(columns, layout.modules[1], stride, 0)
        if best is None or score < best[0]:
            best = (score, mask, rows)
    assert best is not None
    _, qr.mask, rows = best
    qr.matrix = _unpack(rows, size)


def _unmasked(qr: segno.QRCode) -> tuple[int, int]:
    """A symbol made with mask 0, packed, with mask 0 undone (its format information stays)."""
    layout = _layout(int(qr.version))
    rows = [bytes(row).translate(_TO_DIGITS).decode("ascii") for row in qr.matrix]
    packed = (_pack(rows), _pack(["".join(column) for column in zip(*rows, strict=True)]))
    return packed[0] ^ layout.masks[0][0], packed[1] ^ layout.masks[0][1]


def _masked(qr: segno.QRCode, unmasked: tuple[int, int], mask: int) -> tuple[int, int]:
    """The symbol with ``mask`` and its format information, packed by rows and by columns."""
    version = int(qr.version)
    layout = _layout(version)
    form = _format_packed(version, _ERROR_LEVEL[str(qr.error).upper()], mask)
    return (
        (unmasked[0] ^ layout.masks[mask][0]) & ~layout.format_cells[0] | form[0],
        (unmasked[1] ^ layout.masks[mask][1]) & ~layout.format_cells[1] | form[1],
    )


def _unpack(rows: int, size: int) -> tuple[bytearray, ...]:
    stride = size + len(_GAP)
    digits = format(rows, f"0{len(_GAP) + size * stride}b")
    return tuple(
        bytearray(digits[start : start + size].encode("ascii").translate(_FROM_DIGITS))
        for start in range(len(_GAP), len(digits), stride)
    )
