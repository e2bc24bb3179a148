"""``vccore sign``: a proof on an unsigned credential."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..canon import to_quads
from ..proofs import sign
from ..suites import SUITES, get_suite
from ._common import EXIT_OK, _contexts, _parse_time, _read_json, _write_json
from ._home import _load_key


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``sign``."""
    sign_cmd = commands.add_parser("sign", help="sign an unsigned credential")
    sign_cmd.add_argument("credential", type=Path)
    sign_cmd.add_argument("--key", required=True, type=Path, help="key file (Multikey JSON, JWK or PEM)")
    sign_cmd.add_argument("--suite", default="eddsa-rdfc-2022", choices=sorted(n for n, s in SUITES.items() if s.sign))
    sign_cmd.add_argument("--created", help="proof creation time, ISO 8601 with zone (default: now)")
    sign_cmd.add_argument("--context", action="append", default=[], metavar="URL=FILE", help="pin an extra context")
    sign_cmd.add_argument("-o", "--output", type=Path, help="write here instead of standard output")
    sign_cmd.set_defaults(run=_sign)


def _sign(args: argparse.Namespace) -> int:
    credential = _read_json(args.credential)
    key = _load_key(args.key)
    if isinstance(credential, dict) and not get_suite(args.suite).canonicalizes_rdf:
        # JCS signs the JSON without reading it; the verifier reads every suite's credentials
        # in safe mode, so what it would refuse is not signed here either.
        to_quads({k: v for k, v in credential.items() if k != "proof"}, contexts=_contexts(args.context), safe=True)
    signed = sign(
        credential,
        key,
        suite=args.suite,
        created=_parse_time(args.created, "--created") if args.created else None,
        contexts=_contexts(args.context),
    )
    _write_json(signed, args.output)
    return EXIT_OK
