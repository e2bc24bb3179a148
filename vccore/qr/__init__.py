"""QR codes for credentials: payload formats, symbols, PNG and SVG, and reading images.

The rooms, each importing only rooms named before it:

- :mod:`.formats`: the QR payload formats (:class:`QRFormat`: compact, ``VC1:`` + base45 of the
  zlib-compressed JSON, and DIVOC's ZIP), written by :func:`encode_text` and read back, to the
  byte, by :func:`decode_text`;
- :mod:`.symbols`: a credential's QR symbol (:func:`make`, :class:`Symbol`): its error correction
  (:class:`QRErrorCorrection`), its capacity, its mask, and its PNG and SVG;
- :mod:`.images`: the text of the QR code in an image (:func:`read_image`, the ``vccore[images]``
  extra), within bounds on the file and on the memory its pixels take.
"""

from __future__ import annotations

from ..errors import QRError
from .formats import (
    COMPACT_PREFIX,
    DIVOC_FILE,
    FORMATS,
    MAX_JSON_BYTES,
    MAX_PAYLOAD_CHARS,
    Decoded,
    QRFormat,
    b45decode,
    b45encode,
    decode_text,
    encode_text,
)
from .images import IMAGE_FORMATS, MAX_IMAGE_FILE_BYTES, MAX_IMAGE_MEMORY, is_svg, read_image
from .symbols import Q_UP_TO_VERSION, QRErrorCorrection, Symbol, make

__all__ = [
    "COMPACT_PREFIX",
    "DIVOC_FILE",
    "FORMATS",
    "IMAGE_FORMATS",
    "MAX_IMAGE_FILE_BYTES",
    "MAX_IMAGE_MEMORY",
    "MAX_JSON_BYTES",
    "MAX_PAYLOAD_CHARS",
    "Q_UP_TO_VERSION",
    "Decoded",
    "QRError",
    "QRErrorCorrection",
    "QRFormat",
    "Symbol",
    "b45decode",
    "b45encode",
    "decode_text",
    "encode_text",
    "is_svg",
    "make",
    "read_image",
]
