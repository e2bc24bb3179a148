"""``vccore render``: a credential as a printable certificate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import _json, render
from ..errors import UnusableInputError
from ._common import EXIT_OK, _credential_bytes, _entity_types


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``render``."""
    render_cmd = commands.add_parser(
        "render", help="a credential as a printable certificate (A4 HTML or SVG, with its QR code)"
    )
    render_cmd.add_argument("credential", type=Path)
    render_cmd.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.html|OUT.svg")
    render_cmd.add_argument(
        "--format",
        choices=("compact", "divoc"),
        default="compact",
        help="the QR code's payload format (default compact)",
    )
    render_cmd.add_argument(
        "--templates",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="entity types beyond the bundled ones",
    )
    render_cmd.set_defaults(run=_render)


def _render(args: argparse.Namespace) -> int:
    credential = _credential_bytes(args.credential)
    try:
        value = _json.loads(credential)
    except ValueError as exc:
        raise UnusableInputError(f"{args.credential} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UnusableInputError(f"{args.credential} is not a JSON object")
    if args.output.suffix.lower() not in (".html", ".htm", ".svg"):
        raise UnusableInputError(f"{args.output}: write .html or .svg")
    written = render.render(value, args.output, entity_types=_entity_types(args.templates), qr_format=args.format)
    print(f"vccore: {written}", file=sys.stderr)
    return EXIT_OK
