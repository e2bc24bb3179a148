"""``vccore qr encode`` and ``qr decode``: credentials in QR codes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import _json, qr
from ..errors import UnusableInputError
from ._common import (
    EXIT_OK,
    EXIT_REFUSED,
    _cannot_write,
    _decode_qr,
    _read_bytes,
    _read_qr_image,
    _write_json,
    _write_text,
)
from ._verifying import add_print_options, printable


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
    add_print_options(qr_encode)
    qr_encode.set_defaults(run=_qr_encode)
    qr_decode = qr_commands.add_parser("decode", help="the credential in a QR code (an image, or the QR's text)")
    qr_decode.add_argument("image", type=Path, nargs="?")
    qr_decode.add_argument("--text", help="the QR's text instead of an image")
    qr_decode.add_argument(
        "-o", "--output", type=Path, help="write the credential here instead of standard output (indented JSON)"
    )
    qr_decode.add_argument(
        "--raw", action="store_true", help="the JSON exactly as the QR holds it (minified, keys sorted), not indented"
    )
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
    # A QR code is scanned as proof: what does not verify is not encoded unless asked (issue 18, item 11).
    result = printable(credential, args, command="qr encode")
    if result is None:
        return EXIT_REFUSED
    if not result.authentic:
        print("vccore: warning: the credential in this QR code does not verify (--unverified)", file=sys.stderr)
    # minified: the same JSON values (what both the RDF and the JCS suites sign), fewer bytes
    symbol = qr.make(credential, format=args.format, ecc=args.ecc)
    try:
        symbol.save(args.output)
    except OSError as exc:
        raise UnusableInputError(_cannot_write(args.output, exc)) from None
    print(
        f"vccore: wrote {args.output}: QR version {symbol.version}, ECC {symbol.ecc}, {args.format} format ({len(symbol.text):,} characters)",
        file=sys.stderr,
    )
    return EXIT_OK


def _qr_decode(args: argparse.Namespace) -> int:
    if (args.image is None) == (args.text is None):
        raise UnusableInputError("qr decode takes an image or --text TEXT")
    source = "--text" if args.text is not None else args.image
    decoded = _decode_qr(source, args.text if args.text is not None else _read_qr_image(args.image))
    text = decoded.text
    print(f"vccore: {decoded.format} QR payload, {len(text.encode('utf-8')):,} bytes of JSON", file=sys.stderr)
    if args.raw:
        if args.output is not None:
            _write_text(args.output, text + "\n", what="the credential, as the QR holds it")
        else:
            print(text)
    else:
        # the credential's values in the QR's key order, indented as every other command writes JSON
        _write_json(decoded.credential, args.output, what="the credential")
    return EXIT_OK
