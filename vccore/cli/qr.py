"""``vccore qr encode`` and ``qr decode``: credentials in QR codes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import _json, qr
from ..errors import UnusableInputError
from ._common import EXIT_OK, _read_bytes, _read_qr_image


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``qr``."""
    qr_cmd = commands.add_parser("qr", help="QR codes of credentials")
    qr_commands = qr_cmd.add_subparsers(required=True, metavar="ACTION")
    qr_encode = qr_commands.add_parser("encode", help="write a credential's QR code as PNG or SVG")
    qr_encode.add_argument("credential", type=Path)
    qr_encode.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.png|OUT.svg")
    qr_encode.add_argument(
        "--format", choices=("compact", "divoc"), default="compact", help="payload format (default compact)"
    )
    qr_encode.add_argument(
        "--ecc", choices=("M", "Q"), help="error correction (default: Q when the symbol fits in version 25, else M)"
    )
    qr_encode.set_defaults(run=_qr_encode)
    qr_decode = qr_commands.add_parser("decode", help="the credential in a QR code (an image, or the QR's text)")
    qr_decode.add_argument("image", type=Path, nargs="?")
    qr_decode.add_argument("--text", help="the QR's text instead of an image")
    qr_decode.add_argument("-o", "--output", type=Path, help="write the credential here instead of standard output")
    qr_decode.set_defaults(run=_qr_decode)


def _qr_encode(args: argparse.Namespace) -> int:
    raw = _read_bytes(args.credential)
    try:
        credential = _json.loads(raw)  # strict: a duplicate key would read two ways
    except ValueError as exc:
        raise UnusableInputError(f"{args.credential} is not JSON: {exc}") from None
    if not isinstance(credential, dict):
        raise UnusableInputError(f"{args.credential} is not a JSON object")
    if args.output.suffix.lower() not in (".png", ".svg"):
        raise UnusableInputError(f"{args.output}: write .png or .svg")
    # minified: the same JSON values (what both the RDF and the JCS suites sign), fewer bytes
    symbol = qr.make(credential, format=args.format, ecc=args.ecc)
    symbol.save(args.output)
    print(
        f"vccore: {args.output}: QR version {symbol.version}, ECC {symbol.ecc}, {args.format} format ({len(symbol.text):,} characters)",
        file=sys.stderr,
    )
    return EXIT_OK


def _qr_decode(args: argparse.Namespace) -> int:
    if (args.image is None) == (args.text is None):
        raise UnusableInputError("qr decode takes an image or --text TEXT")
    decoded = qr.decode_text(args.text) if args.text is not None else qr.decode_text(_read_qr_image(args.image))
    if args.output is not None:
        args.output.write_text(decoded.text, encoding="utf-8")
    else:
        print(decoded.text)
    print(f"vccore: {decoded.format} QR payload, {len(decoded.text.encode('utf-8')):,} bytes of JSON", file=sys.stderr)
    return EXIT_OK
