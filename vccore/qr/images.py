"""Reading QR images: the text of the QR code in a PNG, JPEG, GIF, BMP or WebP file (zxing-cpp, Pillow), bounded."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ..codes import ErrorCode
from ..errors import QRError

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "IMAGE_FORMATS",
    "MAX_IMAGE_FILE_BYTES",
    "MAX_IMAGE_MEMORY",
    "is_svg",
    "read_image",
]

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
            file.seek(0)
            if is_svg(file.read(1024)):
                raise _unreadable(
                    path,
                    "an SVG image, which vccore cannot read (it has no SVG renderer): read a PNG, JPEG, GIF, BMP or "
                    "WebP image of the code, such as the PNG that Symbol.save('qr.png') writes",
                ) from None
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


def is_svg(head: bytes) -> bool:
    """Whether a file's first bytes (a kilobyte will do) are an SVG document's."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith(b"<svg") or (text.startswith((b"<?xml", b"<!doctype svg", b"<!--")) and b"<svg" in text)


def _unreadable(path: Path, why: object) -> QRError:
    return QRError(f"cannot read the image {path}: {why}", code=ErrorCode.QR_IMAGE_UNREADABLE, path=str(path))
