"""QR payload formats: compact (``VC1:`` + base45 of zlib) and DIVOC's ZIP, written and read back to the byte.

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
"""

from __future__ import annotations

import io
import json
import re
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from .. import _json
from ..codes import ErrorCode
from ..errors import QRError

__all__ = [
    "COMPACT_PREFIX",
    "DIVOC_FILE",
    "FORMATS",
    "MAX_JSON_BYTES",
    "MAX_PAYLOAD_CHARS",
    "Decoded",
    "QRFormat",
    "b45decode",
    "b45encode",
    "decode_text",
    "encode_text",
]


class QRFormat(StrEnum):
    """A QR payload format: what :func:`make` writes, and what :func:`decode_text` found."""

    COMPACT = "compact"
    """``VC1:`` + base45 of the zlib-compressed JSON (the default)."""
    DIVOC = "divoc"
    """A ZIP holding ``certificate.json``, as DIVOC's QR library wrote it."""
    JSON = "json"
    """Plain JSON text: read (as DIVOC's verifier reads it), never written."""


COMPACT_PREFIX: Final = "VC1:"
FORMATS: Final = (QRFormat.COMPACT, QRFormat.DIVOC)
"""The formats :func:`encode_text` and :func:`make` write."""
MAX_JSON_BYTES: Final = 1 << 20
"""The most a QR payload may inflate to (a QR holds under 3 KB; a zlib or ZIP bomb stops here)."""
MAX_PAYLOAD_CHARS: Final = 1 << 16
"""The longest QR payload read: the largest symbol holds 7,089 characters (numeric mode), so
anything much longer did not come from a QR code."""
DIVOC_FILE: Final = "certificate.json"


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
    if payload.lstrip()[:1] not in ("{", "["):
        _refuse_other_text(payload)
    return _decoded(QRFormat.JSON, payload.encode("utf-8"))


_URL: Final = re.compile(r"[a-z][a-z0-9+.-]*://\S+|(?:mailto|tel|sms|geo|urn|did):\S+", re.IGNORECASE)


def _refuse_other_text(payload: str) -> None:
    """QRError for a payload that is none of vccore's formats and not JSON: a URL, or other text."""
    line = payload.strip()
    if _URL.fullmatch(line):
        raise QRError(
            f"this QR holds a URL ({_cut(line)}), not a credential: it is a link to open (a web page, perhaps one that verifies); vccore reads QR "
            "codes that hold a credential (VC1:..., DIVOC's ZIP, or the credential's JSON)",
            code=ErrorCode.QR_FORMAT_UNSUPPORTED,
            format="URL",
            url=line,
        )
    raise QRError(
        f"this QR holds plain text ({_cut(line)}), not JSON text and not a credential payload: vccore "
        "reads QR codes that hold a credential (VC1:..., DIVOC's ZIP, or the credential's JSON)",
        code=ErrorCode.QR_MALFORMED,
    )


def _cut(text: str, limit: int = 80) -> str:
    text = json.dumps(text, ensure_ascii=False)[1:-1]  # control characters escaped, as JSON writes them
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
