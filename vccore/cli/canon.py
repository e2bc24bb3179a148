"""``vccore canonicalize`` and ``contexts export``: canonical N-Quads and the pinned contexts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..canon import canonicalize, canonicalize_nquads
from ..contexts import bundled_contexts
from ..errors import UnusableInputError
from ._common import EXIT_OK, _add_context_option, _contexts, _read_json


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``canonicalize`` and ``contexts``."""
    canon = commands.add_parser("canonicalize", help="print canonical N-Quads (RDFC-1.0)")
    canon.add_argument("file", type=Path)
    canon.add_argument(
        "--from", dest="source", choices=("jsonld", "nquads"), help="input format (default: by extension)"
    )
    _add_context_option(canon)
    canon.set_defaults(run=_canonicalize)

    contexts = commands.add_parser("contexts", help="the pinned JSON-LD contexts")
    contexts_commands = contexts.add_subparsers(required=True, metavar="ACTION")
    export = contexts_commands.add_parser("export", help="write every context and an index.json")
    export.add_argument("directory", type=Path)
    export.set_defaults(run=_contexts_export)


def _canonicalize(args: argparse.Namespace) -> int:
    source = args.source or ("nquads" if args.file.suffix in (".nq", ".nquads") else "jsonld")
    if source == "nquads":
        try:
            text = args.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UnusableInputError(f"cannot read {args.file}: {exc}") from None
        sys.stdout.write(canonicalize_nquads(text))
    else:
        sys.stdout.write(canonicalize(_read_json(args.file), contexts=_contexts(args.context)))
    return EXIT_OK


def _contexts_export(args: argparse.Namespace) -> int:
    urls = bundled_contexts().export(args.directory)
    print(f"vccore: wrote {len(urls)} contexts and index.json to {args.directory}", file=sys.stderr)
    return EXIT_OK
