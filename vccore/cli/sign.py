"""``vccore sign``: a proof on an unsigned credential."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..canon import to_quads
from ..codes import ErrorCode
from ..errors import SigningError
from ..proofs import sign
from ..suites import get_suite
from ._common import (
    EXIT_OK,
    TIME_FORMS,
    _add_context_option,
    _add_templates_option,
    _contexts,
    _parse_time,
    _read_json,
    _write_json,
    signing_suites,
)
from ._home import _load_key


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``sign``."""
    sign_cmd = commands.add_parser("sign", help="sign an unsigned credential")
    sign_cmd.add_argument("credential", type=Path)
    sign_cmd.add_argument("--key", required=True, type=Path, help="key file (Multikey JSON, JWK or PEM)")
    sign_cmd.add_argument("--suite", default="eddsa-rdfc-2022", choices=signing_suites())
    sign_cmd.add_argument("--created", help=f"proof creation time: {TIME_FORMS} (default: now)")
    _add_context_option(sign_cmd)
    _add_templates_option(sign_cmd, "know the contexts of these entity types")
    sign_cmd.add_argument("-o", "--output", type=Path, help="write here instead of standard output")
    sign_cmd.add_argument(
        "--force",
        action="store_true",
        help="sign even when the credential's issuer is not the key's controller (it will not verify)",
    )
    sign_cmd.set_defaults(run=_sign)


def _sign(args: argparse.Namespace) -> int:
    credential = _read_json(args.credential)
    key = _load_key(args.key)
    if isinstance(credential, dict) and not get_suite(args.suite).canonicalizes_rdf:
        # JCS signs the JSON without reading it; the verifier reads every suite's credentials
        # in safe mode, so what it would refuse is not signed here either.
        to_quads(
            {k: v for k, v in credential.items() if k != "proof"},
            contexts=_contexts(args.context, templates=args.templates),
            safe=True,
        )
    signed = sign(
        credential,
        key,
        suite=args.suite,
        created=_parse_time(args.created, "--created") if args.created else None,
        contexts=_contexts(args.context, templates=args.templates),
    )
    if not args.force:  # after signing, so that what would refuse the credential itself is said first
        _check_issuer(credential, key.controller, args.credential)
    _write_json(signed, args.output)
    return EXIT_OK


def _check_issuer(credential: Any, controller: str, path: Path) -> None:
    """Refuse to sign what can never verify: a verifier accepts a proof only by a key its issuer controls."""
    issuer = credential.get("issuer") if isinstance(credential, dict) else None
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    if issuer_id == controller:
        return
    said = f"the issuer {issuer_id}" if isinstance(issuer_id, str) and issuer_id else "no issuer id"
    raise SigningError(
        f"{path} names {said}, and the key's controller is {controller}: a verifier accepts only a proof "
        f"by a key the issuer controls, so the signed credential would never verify. Set the issuer to "
        f"{controller}, or sign with the issuer's key (--force signs anyway)",
        code=ErrorCode.ISSUER_MISMATCH,
        issuer=str(issuer_id),
        controller=controller,
    )
