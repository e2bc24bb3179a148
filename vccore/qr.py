"""QR codes for credentials: payload formats, symbols, PNG and SVG.

Two payload formats, told apart by :func:`decode_text`:

- **compact** (the default): ``VC1:`` + base45 (RFC 9285) of the zlib-compressed minified JSON,
  all in the QR alphanumeric set (the EU DCC's scheme, with vccore's own prefix). The seed
  HealthProfessional credential (1,965 bytes of JSON) is a version-23 symbol at ECC M.
- **divoc**: a ZIP holding ``certificate.json``, as DIVOC's QR library wrote it: byte mode, each
  byte of the ZIP as a character, so that a byte >= 0x80 became its two-byte UTF-8 form. DIVOC's
  verifier reads the QR text back as UTF-8, re-encodes it as Latin-1 and unzips; reading also
  accepts plain JSON, as DIVOC's verifier does. (The same ZIP written as raw bytes is what
  ZXing-based scanners corrupt: they guess a character set for it.)

``HC1:`` (EU Digital COVID Certificates) and ``shc:/`` (SMART Health Cards) are recognised and
refused, with a message saying what they are. Decoding returns the JSON text that was put in, to
the byte, so that a round trip never changes what a signature covers.

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
import json
import os
import re
import warnings
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import segno
from segno import consts as _segno_consts

from . import _json
from .codes import ErrorCode
from .errors import QRError

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "COMPACT_PREFIX",
    "Decoded",
    "QRError",
    "QRErrorCorrection",
    "QRFormat",
    "Symbol",
    "b45decode",
    "b45encode",
    "decode_text",
    "encode_text",
    "make",
    "read_image",
]


class QRFormat(StrEnum):
    """A QR payload format: what :func:`make` writes, and what :func:`decode_text` found."""

    COMPACT = "compact"
    """``VC1:`` + base45 of the zlib-compressed JSON (the default)."""
    DIVOC = "divoc"
    """A ZIP holding ``certificate.json``, as DIVOC's QR library wrote it."""
    JSON = "json"
    """Plain JSON text: read (as DIVOC's verifier reads it), never written."""


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


COMPACT_PREFIX: Final = "VC1:"
FORMATS: Final = (QRFormat.COMPACT, QRFormat.DIVOC)
"""The formats :func:`encode_text` and :func:`make` write."""
MAX_JSON_BYTES: Final = 1 << 20
"""The most a QR payload may inflate to (a QR holds under 3 KB; a zlib or ZIP bomb stops here)."""
MAX_PAYLOAD_CHARS: Final = 1 << 16
"""The longest QR payload read: the largest symbol holds 7,089 characters (numeric mode), so
anything much longer did not come from a QR code."""
DIVOC_FILE: Final = "certificate.json"
Q_UP_TO_VERSION: Final = 25


# --- base45 (RFC 9285) ---------------------------------------------------------------------------

_B45: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_VALUE: Final = {c: i for i, c in enumerate(_B45)}


def b45encode(data: bytes) -> str:
    """Base45 of ``data`` (RFC 9285 section 4)."""
    out: list[str] = []
    alphabet = _B45
    for i in range(0, len(data) - 1, 2):
        value = data[i] << 8 | data[i + 1]
        high, value = divmod(value, 2025)
        middle, low = divmod(value, 45)
        out += (alphabet[low], alphabet[middle], alphabet[high])
    if len(data) % 2:
        middle, low = divmod(data[-1], 45)
        out += (alphabet[low], alphabet[middle])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """The bytes of base45 ``text``; QRError names what is wrong (RFC 9285 section 4.2)."""
    try:
        values = [_B45_VALUE[c] for c in text]
    except KeyError as exc:
        raise QRError(f"base45: {exc.args[0]!r} is not a base45 character", code=ErrorCode.QR_MALFORMED) from None
    if len(values) % 3 == 1:
        raise QRError(
            f"base45: {len(values)} characters cannot be base45 (a group of one is left over)",
            code=ErrorCode.QR_MALFORMED,
        )
    out = bytearray()
    for i in range(0, len(values) - 2, 3):
        value = values[i] + values[i + 1] * 45 + values[i + 2] * 2025
        if value > 0xFFFF:
            raise QRError(
                f"base45: the group at character {i} is {value}, more than two bytes hold", code=ErrorCode.QR_MALFORMED
            )
        out += value.to_bytes(2, "big")
    if len(values) % 3 == 2:
        value = values[-2] + values[-1] * 45
        if value > 0xFF:
            raise QRError(f"base45: the last group is {value}, more than a byte holds", code=ErrorCode.QR_MALFORMED)
        out.append(value)
    return bytes(out)


# --- payloads -----------------------------------------------------------------------------------


def _minified(credential: Mapping[str, Any] | str) -> str:
    if isinstance(credential, str):
        return credential  # the caller's JSON text, kept byte for byte
    # Keys sorted: like keys and values sit together and compress better (about 6 bytes for the
    # seed credential, which keeps a VC 1.1 Ed25519Signature2020 one within version 23 at M).
    # Neither RDFC-1.0 nor JCS signs key order, so the signature holds.
    return json.dumps(credential, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def encode_text(credential: Mapping[str, Any] | str, format: QRFormat | str = QRFormat.COMPACT) -> str:
    """The QR text of a credential (a JSON object, or its JSON text, kept as it is).

    ``format``, a :class:`QRFormat` or its value: compact: ``VC1:`` + base45(zlib(JSON)), every
    character in the QR alphanumeric set. divoc: the ZIP's bytes as characters U+0000-U+00FF (to
    be written in byte mode as UTF-8, as DIVOC did).
    """
    text = _minified(credential)
    if _written_format(format) is QRFormat.COMPACT:
        return COMPACT_PREFIX + b45encode(zlib.compress(text.encode("utf-8"), 9))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        # a fixed date: the same credential makes the same symbol
        info = zipfile.ZipInfo(DIVOC_FILE, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, text.encode("utf-8"))
    return buffer.getvalue().decode("latin-1")


def _written_format(format: QRFormat | str) -> QRFormat:
    """``format`` as one of the :data:`FORMATS` vccore writes; QRError ``QR_MALFORMED`` for another."""
    if format in FORMATS:
        return QRFormat(format)
    given = format.value if isinstance(format, QRFormat) else format
    raise QRError(
        f"unknown QR format {given!r} (known: {', '.join(FORMATS)})", code=ErrorCode.QR_MALFORMED, format=given
    )


@dataclass(frozen=True, slots=True)
class Decoded:
    """What a QR payload held: its format (``compact``, ``divoc`` or ``json``), the JSON text
    exactly as it was put in, and that JSON parsed.
    """

    format: QRFormat
    text: str
    credential: dict[str, Any]


_OTHER_PREFIX: Final = re.compile(r"VC([0-9]+):")


def decode_text(payload: str | bytes) -> Decoded:
    """Read a QR payload: the text a QR decoder gives (or its raw bytes, read as UTF-8, as
    DIVOC's verifier does). QRError says what is wrong, and what the payload is when it is a
    health certificate of another kind.
    """
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise QRError(
            f"a QR payload of {len(payload):,} characters: no QR code holds more than 7,089",
            code=ErrorCode.QR_TOO_LARGE,
            characters=len(payload),
        )
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise QRError(
                f"the QR bytes are not UTF-8 text (byte {exc.start}): not a payload vccore reads",
                code=ErrorCode.QR_MALFORMED,
            ) from None
    if payload.startswith("HC1:"):
        raise QRError(
            "this QR holds an EU Digital COVID Certificate (HC1: base45 of a COSE-signed CBOR "
            "document), not a W3C Verifiable Credential: vccore does not read it",
            code=ErrorCode.QR_FORMAT_UNSUPPORTED,
            format="HC1",
        )
    if payload.startswith("shc:/"):
        raise QRError(
            "this QR holds a SMART Health Card (shc:/ digits of a compact JWS), not a W3C "
            "Verifiable Credential: vccore does not read it",
            code=ErrorCode.QR_FORMAT_UNSUPPORTED,
            format="SHC",
        )
    if payload.startswith(COMPACT_PREFIX):
        data = _inflate(b45decode(payload[len(COMPACT_PREFIX) :]))
        return _decoded(QRFormat.COMPACT, data)
    other = _OTHER_PREFIX.match(payload)
    if other is not None:
        raise QRError(
            f"this QR holds a vccore payload of format version {other[1]}; this vccore reads version 1",
            code=ErrorCode.QR_MALFORMED,
        )
    try:
        raw = payload.encode("latin-1")
    except UnicodeEncodeError:
        raw = b""
    if raw.startswith(b"PK\x03\x04"):
        return _decoded(QRFormat.DIVOC, _unzip(raw))
    return _decoded(QRFormat.JSON, payload.encode("utf-8"))


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_JSON_BYTES + 1)
    except zlib.error as exc:
        raise QRError(f"the compact payload is not zlib data: {exc}", code=ErrorCode.QR_MALFORMED) from None
    if len(out) > MAX_JSON_BYTES:
        raise QRError(f"the compact payload inflates to more than {MAX_JSON_BYTES} bytes", code=ErrorCode.QR_MALFORMED)
    if not inflater.eof or inflater.unused_data:
        raise QRError(
            "the compact payload's zlib data is cut short or followed by other bytes", code=ErrorCode.QR_MALFORMED
        )
    return out


def _unzip(raw: bytes) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            names = archive.namelist()
            if DIVOC_FILE not in names:
                raise QRError(
                    f"the QR's ZIP holds {', '.join(names) or 'nothing'}, not {DIVOC_FILE}", code=ErrorCode.QR_MALFORMED
                )
            if archive.getinfo(DIVOC_FILE).file_size > MAX_JSON_BYTES:
                raise QRError(
                    f"{DIVOC_FILE} in the QR's ZIP is larger than {MAX_JSON_BYTES} bytes", code=ErrorCode.QR_MALFORMED
                )
            with archive.open(DIVOC_FILE) as member:
                data = member.read(MAX_JSON_BYTES + 1)  # the size in the header may lie
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        raise QRError(f"the QR's ZIP cannot be read: {exc}", code=ErrorCode.QR_MALFORMED) from None
    if len(data) > MAX_JSON_BYTES:
        raise QRError(
            f"{DIVOC_FILE} in the QR's ZIP is larger than {MAX_JSON_BYTES} bytes", code=ErrorCode.QR_MALFORMED
        )
    return data


def _decoded(format: QRFormat, data: bytes) -> Decoded:
    try:
        text = data.decode("utf-8")
        value = _json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise QRError(f"the QR's {format} payload is not JSON text: {exc}", code=ErrorCode.QR_MALFORMED) from None
    if not isinstance(value, dict):
        raise QRError(f"the QR's {format} payload is JSON, but not an object", code=ErrorCode.QR_MALFORMED)
    return Decoded(format, text, value)


# --- symbols ------------------------------------------------------------------------------------


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


# --- reading images ------------------------------------------------------------------------------

# Reading an image is bounded by memory, checked on its header before a pixel is decoded: what a
# pixel costs depends on how the image is stored. The peaks per pixel (above the interpreter's
# own, about 50 MB for the command), measured with Pillow 13 and zxing-cpp 3.1, for the pixels
# decoded, the grey copy made of them, then zxing-cpp's binarized image: 3 bytes for grey, bilevel
# and palette images and for JPEGs (decoded straight to grey), 5 for RGB(A) and other 4-byte
# modes, 9 for CMYK (Pillow goes through RGB), 12 for a progressive JPEG (libjpeg keeps every DCT
# coefficient of every component at once) and 17 for WebP (Pillow holds the file, libwebp a
# canvas and a second one, then Pillow its own image). 160 MB keeps the command near 210 MB at
# the most, and still reads a 50-megapixel phone photo (a JPEG), an A4 page scanned at 600 dpi
# (35 megapixels) as JPEG or as grey or bilevel PNG, and an RGB PNG of 32 megapixels. Without a
# bound, a 0.5 MB PNG of 13,000 x 13,000 white pixels took 1.2 GB.
MAX_IMAGE_MEMORY: Final = 160_000_000
"""The most memory, in bytes, that reading a QR image may take (beyond the interpreter's own)."""
MAX_IMAGE_FILE_BYTES: Final = 1 << 27
"""The largest image file read (128 MiB): more than any 8-bit image within the bound takes
uncompressed, and Pillow reads some formats (WebP) whole."""
IMAGE_FORMATS: Final = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
"""The formats read (Pillow's names): the ones ``vccore verify`` tells from their first bytes.
No other Pillow plugin is tried (EPS, for one, runs Ghostscript)."""

# What Pillow raises for a file it cannot decode: OSError for truncated or broken data (and
# UnidentifiedImageError), SyntaxError and ValueError for broken headers and chunks, EOFError for
# a missing frame. (Fuzzing the five formats found nothing else; Pillow turns a plugin's
# IndexError or struct.error into one of these.)
_IMAGE_ERRORS: Final = (OSError, ValueError, SyntaxError, EOFError)


def read_image(path: str | Path) -> str:
    """The text of the QR code in an image (PNG, JPEG, GIF, BMP or WebP; the first frame of an
    animation), read with zxing-cpp: the ``vccore[images]`` extra. For a byte-mode symbol the
    text is its bytes read as UTF-8 (what DIVOC's QR library wrote), whatever character set the
    decoder would have guessed. QRError ``QR_IMAGE_TOO_LARGE`` when the file or its pixels are
    over vccore's bounds (checked before the pixels are decoded), ``QR_IMAGE_UNREADABLE`` when it
    is not an image vccore reads, ``QR_NOT_FOUND`` when no QR code can be read in it.
    """
    try:
        import PIL.Image  # noqa: F401 (what _grey_pixels uses: its absence is said here, once)
        import zxingcpp
    except ImportError:
        raise QRError(
            "reading a QR image needs zxing-cpp and Pillow: pip install 'vccore[images]'",
            code=ErrorCode.QR_READER_MISSING,
        ) from None
    pixels, width, height = _grey_pixels(Path(path))
    try:
        # QR codes only: asked for every format, zxing-cpp now and then also "finds" a
        # DataBar Stacked code inside a large QR symbol (seen in 2 of 200 version-37 symbols).
        # The grey bytes, not a Pillow image: zxing-cpp would copy that one first.
        barcodes = zxingcpp.read_barcodes(
            memoryview(pixels).cast("B", (height, width)),
            formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode),
        )
    except (OSError, ValueError) as exc:
        raise QRError(
            f"cannot read the image {path}: {exc}", code=ErrorCode.QR_IMAGE_UNREADABLE, path=str(path)
        ) from None
    if not barcodes:
        raise QRError(f"no QR code could be read in {path}", code=ErrorCode.QR_NOT_FOUND, path=str(path))
    found = barcodes[0]
    raw = bytes(found.bytes)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return str(found.text)


def _grey_pixels(path: Path) -> tuple[bytes, int, int]:
    """An image's pixels as 8-bit grey, row by row, with its width and height; QRError when the
    image is too large (by its header) or cannot be decoded.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        file = path.open("rb")
    except OSError as exc:
        raise _unreadable(path, exc.strerror or str(exc)) from None
    with file:
        size = os.fstat(file.fileno()).st_size
        if size > MAX_IMAGE_FILE_BYTES:
            raise QRError(
                f"{path}: an image file of {size:,} bytes; vccore reads QR images of at most {MAX_IMAGE_FILE_BYTES:,} bytes",
                code=ErrorCode.QR_IMAGE_TOO_LARGE,
                path=str(path),
                bytes=size,
                limit=MAX_IMAGE_FILE_BYTES,
            )
        try:
            # Pillow warns above 89 million pixels and raises above twice that, from the header;
            # every image that large is over vccore's bound, so here the warning is an error too
            # (not two lines on standard error before the refusal). The filter is process-wide:
            # it is held only while Pillow reads the header.
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(file, formats=IMAGE_FORMATS)
        except UnidentifiedImageError:
            raise _unreadable(
                path, "not an image vccore reads (PNG, JPEG, GIF, BMP or WebP), or a broken one"
            ) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            limit = MAX_IMAGE_MEMORY // min(_BYTES_PER_PIXEL.values())
            raise QRError(
                f"{path}: {_pillow_size(exc)}; vccore reads QR images of at most {limit:,} pixels",
                code=ErrorCode.QR_IMAGE_TOO_LARGE,
                path=str(path),
                limit=limit,
            ) from None
        except _IMAGE_ERRORS as exc:
            raise _unreadable(path, exc) from None
        with image:
            width, height = image.size
            kind = _storage(image)
            limit = MAX_IMAGE_MEMORY // _BYTES_PER_PIXEL[kind]
            if width * height > limit:
                raise QRError(
                    f"{path}: a {image.format} image of {width:,} x {height:,} pixels ({width * height:,}); "
                    f"vccore reads {kind} of at most {limit:,} pixels",
                    code=ErrorCode.QR_IMAGE_TOO_LARGE,
                    path=str(path),
                    width=width,
                    height=height,
                    pixels=width * height,
                    limit=limit,
                )
            if width * height == 0:
                raise _unreadable(path, "it has no pixels")
            try:
                if image.format in ("JPEG", "MPO"):
                    image.draft("L", None)  # libjpeg's luma (the weights of Pillow's RGB to L): no RGB image
                image.load()
                grey = image if image.mode == "L" else image.convert("L")
            except _IMAGE_ERRORS as exc:
                raise _unreadable(path, exc) from None
            if grey is not image:
                image.close()  # its memory now, before the grey bytes are copied out
    try:
        return grey.tobytes(), grey.width, grey.height
    finally:
        grey.close()


# The peak bytes a pixel costs, by how the image is stored (measured: see MAX_IMAGE_MEMORY).
_BYTES_PER_PIXEL: Final = {
    "grey, bilevel and palette images": 3,
    "JPEG images": 3,
    "colour images": 5,
    "CMYK images": 9,
    "progressive JPEG images": 12,
    "WebP images": 17,
}


def _storage(image: Image.Image) -> str:
    """How a Pillow image opened from a file is stored, as far as its decoding cost goes."""
    if image.format == "WEBP":
        return "WebP images"
    jpeg = image.format in ("JPEG", "MPO")
    if jpeg and (image.info.get("progressive") or image.info.get("progression")):
        return "progressive JPEG images"
    if image.mode == "CMYK":
        return "CMYK images"
    if jpeg:
        return "JPEG images"
    return "grey, bilevel and palette images" if image.mode in ("1", "L", "P") else "colour images"


def _pillow_size(exc: Exception) -> str:
    """The size in Pillow's decompression bomb message, as a phrase."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    return f"an image of {int(found[1]):,} pixels" if found else "an image over Pillow's decompression bomb bound"


def _unreadable(path: Path, why: object) -> QRError:
    return QRError(f"cannot read the image {path}: {why}", code=ErrorCode.QR_IMAGE_UNREADABLE, path=str(path))
