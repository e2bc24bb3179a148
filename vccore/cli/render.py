"""``vccore render``: a credential as a printable certificate."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import _json, render
from ..errors import UnusableInputError
from ._common import EXIT_OK, EXIT_REFUSED, _credential_bytes, _entity_types, _parse_time
from ._verifying import add_print_options, printable


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``render``."""
    render_cmd = commands.add_parser(
        "render", help="a credential as a printable certificate (A4 HTML, SVG or PDF, with its QR code)"
    )
    render_cmd.add_argument("credential", type=Path)
    render_cmd.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="OUT.html|OUT.svg|OUT.pdf",
        help="the page to write, by its suffix: .html, .svg, or .pdf (printed by headless Chromium)",
    )
    render_cmd.add_argument(
        "--format",
        choices=("compact", "divoc"),
        default="compact",
        help="the QR code's payload format (default compact)",
    )
    render_cmd.add_argument(
        "--template",
        type=Path,
        metavar="FILE",
        help="a tenant's Handlebars HTML or SVG certificate template (certificate-api's: the credential's fields, "
        "qrCode, dateFormat) instead of vccore's own layout; it writes .html or .pdf for an HTML template, .svg or "
        ".pdf for an SVG one",
    )
    add_print_options(render_cmd)
    render_cmd.set_defaults(run=_render)


def _render(args: argparse.Namespace) -> int:
    credential = _credential_bytes(args.credential)
    try:
        value = _json.loads(credential)
    except ValueError as exc:
        raise UnusableInputError(f"{args.credential} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UnusableInputError(f"{args.credential} is not a JSON object")
    if args.output.suffix.lower() not in (".html", ".htm", ".svg", ".pdf"):
        raise UnusableInputError(f"{args.output}: write .html, .svg or .pdf")
    entity_types = _entity_types(args.templates)
    # A page with a QR code looks like proof: what does not verify is not printed unless asked,
    # and then the page says so. One that verified and no longer holds is printed with its state.
    result = printable(value, args, command="render")
    if result is None:
        return EXIT_REFUSED
    if args.template is not None:
        _, state = render.page_state(value, result)
        _render_template(value, args.template, args.output, state)
        said = f" ({'; '.join(state)})" if state else ""
        print(f"vccore: wrote {args.output}{said}", file=sys.stderr)
        return EXIT_OK
    written = render.render(
        value,
        args.output,
        entity_types=entity_types,
        qr_format=args.format,
        verification=result,
        now=_parse_time(args.now, "--now") if args.now else None,
    )
    _, state = render.page_state(value, result)
    said = f" ({'; '.join(state)})" if state else ""
    print(f"vccore: wrote {written}{said}", file=sys.stderr)
    return EXIT_OK


def _render_template(credential: Mapping[str, Any], template: Path, output: Path, notice: list[str]) -> None:
    """Write the page ``template`` (a tenant's Handlebars HTML or SVG) makes of ``credential``, or its
    PDF; ``notice``: the state of a credential that is not current, shown in a band at the top.
    """
    from .. import certificate_templates  # the page's engine and printer, loaded when a template is given

    try:
        source = template.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnusableInputError(f"{template} is not UTF-8 text (a Handlebars HTML or SVG template)") from None
    svg = template.suffix.lower() == ".svg" or certificate_templates.is_svg(source)
    suffix = output.suffix.lower()
    if suffix in (".html", ".htm", ".svg") and (suffix == ".svg") != svg:
        kind, wants = ("an SVG", ".svg or .pdf") if svg else ("an HTML", ".html or .pdf")
        raise UnusableInputError(f"{template} is {kind} template: it writes {wants}, not {output.name}")
    text = json.dumps(credential, ensure_ascii=False, separators=(",", ":"))
    page = certificate_templates.with_notice(certificate_templates.CertificateTemplates().render(source, text), notice)
    if suffix == ".pdf":  # as certificate-api prints it: A4, backgrounds, Chromium's header and footer
        output.write_bytes(certificate_templates.print_page(page))
    else:
        output.write_text(page, encoding="utf-8")
