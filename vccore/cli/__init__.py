"""The ``vccore`` command.

Exit status, one rule for every command (docs/cli.md lists the families of each): 0 done (or
verified); 1 ran and refused (not verified, a payload or document refused, a change the store's
state refuses, a batch with rejected lines); 2 could not run as asked (a bad argument, an unknown
entity type, a file or folder missing or unreadable, input that is neither JSON nor a QR code);
141 standard output closed early (``| head``).

One module per command group, each with its parser builder (``add_commands``) and its
handlers: :mod:`~vccore.cli.keys`, :mod:`~vccore.cli.issue`, :mod:`~vccore.cli.lifecycle`,
:mod:`~vccore.cli.entities`, :mod:`~vccore.cli.sign`, :mod:`~vccore.cli.verify`,
:mod:`~vccore.cli.canon`, :mod:`~vccore.cli.qr`, :mod:`~vccore.cli.render`,
:mod:`~vccore.cli.serve`, :mod:`~vccore.cli.demo`; privately ``_common`` (exit statuses,
unusable input, reading and writing files) and ``_home`` (the issuer's folder: key and store).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from .. import __version__
from ..codes import CredentialStatus, ErrorCode, ProblemCode
from ..contexts import UNKNOWN_CONTEXT_HINT
from ..errors import UnusableInputError, VccoreError
from . import canon, demo, entities, issue, keys, lifecycle, qr, render, serve, sign, verify
from ._common import EXIT_INTERRUPTED, EXIT_PIPE_CLOSED, EXIT_UNUSABLE, HINTS, exit_status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        status = _run(args)
        sys.stdout.flush()  # here, so that a reader gone away is met here, not at exit
    except BrokenPipeError:
        # `vccore entities | head -1`: the reader has what it wanted. Nothing more goes to it, and
        # Python's own flush at exit must not fail again on the same pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_PIPE_CLOSED
    except KeyboardInterrupt:
        # Ctrl-C: one line, no traceback. Each change is one transaction, so none is half made; a
        # batch has recorded what it issued, and goes on from there when run again.
        print("vccore: interrupted: run the same command again to continue a batch", file=sys.stderr)
        return EXIT_INTERRUPTED
    return status


def _run(args: argparse.Namespace) -> int:
    try:
        result: int = args.run(args)
        return result
    except UnusableInputError as exc:
        return _stopped(args, exc.code, exc.message, EXIT_UNUSABLE)
    except VccoreError as exc:
        hint = f": {HINTS[exc.code]}" if exc.code in HINTS else ""
        # an unpinned context's message ends with the Python remedy; the command line says its own
        message = exc.message.removesuffix(f"; {UNKNOWN_CONTEXT_HINT}")
        return _stopped(args, exc.code, f"{exc.code}: {message}{hint}", exit_status(exc.code))
    except OSError as exc:
        if exc.filename is None or isinstance(exc, BrokenPipeError):
            raise
        # A path the command was given that is not there or not allowed (an -o into a folder
        # that does not exist, a folder that is a file): said, not a traceback.
        return _stopped(
            args,
            None,
            f"{exc.filename}: {exc.strerror or exc}: check the path (does its folder exist? may vccore write there?)",
            EXIT_UNUSABLE,
        )


def _stopped(args: argparse.Namespace, code: ErrorCode | None, message: str, status: int) -> int:
    """Say why the command stopped; ``verify --json`` says it as a result on standard output too."""
    print(f"vccore: {message}", file=sys.stderr)
    if args.run is verify._verify and getattr(args, "json", False) and getattr(args, "batch", None) is None:
        detail = message.removeprefix(f"{code}: ") if code is not None else message
        problem: dict[str, str] = {"code": ProblemCode.PARSING_ERROR, "detail": detail}
        if code is not None:
            problem["reason"] = code
        result = {
            "verified": False,
            "status": CredentialStatus.INVALID,
            "problems": [problem],
            "warnings": [],
            "proofs": [],
            "exitStatus": status,
        }
        print(json.dumps(result, indent=2, ensure_ascii=False))
    return status


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
