"""The ``vccore`` command.

Exit status: 0 done (or verified); 1 refused (not verified, or the library refused to sign);
2 unusable input (a file that cannot be read or is not JSON, a bad argument).

One module per command group, each with its parser builder (``add_commands``) and its
handlers: :mod:`~vccore.cli.keys`, :mod:`~vccore.cli.issue`, :mod:`~vccore.cli.lifecycle`,
:mod:`~vccore.cli.entities`, :mod:`~vccore.cli.sign`, :mod:`~vccore.cli.verify`,
:mod:`~vccore.cli.canon`, :mod:`~vccore.cli.qr`, :mod:`~vccore.cli.render`,
:mod:`~vccore.cli.serve`, :mod:`~vccore.cli.demo`; privately ``_common`` (exit statuses,
unusable input, reading and writing files) and ``_home`` (the issuer's folder: key and store).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import UnusableInputError, VccoreError
from . import canon, demo, entities, issue, keys, lifecycle, qr, render, serve, sign, verify
from ._common import EXIT_REFUSED, EXIT_UNUSABLE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
        return result
    except UnusableInputError as exc:
        print(f"vccore: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except VccoreError as exc:
        print(f"vccore: {exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_REFUSED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vccore", description="Issue and verify W3C Verifiable Credentials.")
    parser.add_argument("--version", action="version", version=f"vccore {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    # in the order `vccore --help` lists them
    keys.add_commands(commands)
    issue.add_commands(commands)
    lifecycle.add_commands(commands)
    entities.add_commands(commands)
    sign.add_commands(commands)
    verify.add_commands(commands)
    canon.add_commands(commands)
    qr.add_commands(commands)
    render.add_commands(commands)
    serve.add_commands(commands)
    demo.add_commands(commands)
    return parser
