"""``vccore verify``: a credential (a file, an image, QR text), or a batch of them."""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

from ..batch import BatchError, verify_batch
from ..errors import UnusableInputError, VccoreError
from ..store import Store, open_store
from ..suites import SUITES
from ..verify import Verifier
from . import _common
from ._common import (
    EXIT_OK,
    EXIT_REFUSED,
    _check_workers,
    _contexts,
    _credential_bytes,
    _parse_time,
    _read_trust,
)
from ._home import _store_location


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``verify``."""
    verify_cmd = commands.add_parser("verify", help="verify a credential (exit 0 verified, 1 not, 2 unusable)")
    verify_cmd.add_argument("credential", type=Path, nargs="?")
    verify_cmd.add_argument(
        "--batch",
        type=Path,
        metavar="IN.jsonl",
        help="verify one credential per line; one JSON result per line (exit 0: all verified)",
    )
    verify_cmd.add_argument(
        "-o", "--output", type=Path, help="with --batch: write the results here instead of standard output"
    )
    verify_cmd.add_argument("--workers", type=int, default=1, metavar="N", help="with --batch: processes (default 1)")
    verify_cmd.add_argument("--json", action="store_true", help="print the result as JSON")
    verify_cmd.add_argument("--now", help="verify as of this time, ISO 8601 with zone (default: now)")
    verify_cmd.add_argument(
        "--suite", action="append", choices=sorted(SUITES), help="accept only this suite (repeatable; default: all)"
    )
    verify_cmd.add_argument("--context", action="append", default=[], metavar="URL=FILE", help="pin an extra context")
    verify_cmd.add_argument(
        "--trust",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="trusted verification methods / DID documents (JSON)",
    )
    verify_cmd.add_argument(
        "--issuer", action="append", metavar="ID", help="trust only credentials from this issuer (repeatable)"
    )
    verify_cmd.add_argument(
        "--templates",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="know the contexts of these entity types",
    )
    verify_cmd.add_argument(
        "--status-dir", type=Path, metavar="DIR", help="status list credentials (from vccore status export)"
    )
    verify_cmd.add_argument(
        "--home",
        type=Path,
        help="the issuer's working folder: its store names the successor of a superseded credential",
    )
    verify_cmd.add_argument(
        "--store", metavar="URL|FILE", help="the issuer's store, read only (default: $VCCORE_STORE, else --home's)"
    )
    verify_cmd.set_defaults(run=_verify)


def _verify(args: argparse.Namespace) -> int:
    if args.batch is not None:
        return _verify_batch(args)
    if args.credential is None:
        raise UnusableInputError("verify needs a credential file (or --batch IN.jsonl)")
    raw = _credential_bytes(args.credential)
    try:
        json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise UnusableInputError(f"{args.credential} is not JSON: {exc}") from None
    verifier = _verifier(args)
    # The text goes in whole: verify() reads it strictly (duplicate keys are a problem it reports).
    result = verifier.verify(raw, now=_parse_time(args.now, "--now") if args.now else None)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    elif result.verified:
        methods = ", ".join(p.verification_method or "?" for p in result.proofs if p.verified)
        print(f"verified ({methods})")
    else:
        print(f"not verified ({result.status})")
        for problem in result.problems:
            print(f"  {problem.code}: {problem.detail}")
    if not args.json:
        for warning in result.warnings:
            print(f"  warning: {warning.code}: {warning.detail}")
    return EXIT_OK if result.verified else EXIT_REFUSED


def _verify_batch(args: argparse.Namespace) -> int:
    if args.credential is not None:
        raise UnusableInputError("give a credential file or --batch, not both")
    _check_workers(args.workers)
    make_verifier = functools.partial(_verifier, args)
    store = make_verifier().store  # its configuration's problems now, before any worker starts
    if store is not None:
        store.close()  # before the workers are forked, as in _issue_batch
    now = _parse_time(args.now, "--now") if args.now else None
    run = functools.partial(
        verify_batch, make_verifier, args.batch, workers=args.workers, now=now, start_method=_common._start_method()
    )
    try:
        if args.output is None:
            report = run(sys.stdout.buffer)
        else:
            with open(args.output, "wb") as output:
                report = run(output)
    except BatchError as exc:
        raise UnusableInputError(exc.message) from None
    except OSError as exc:
        raise UnusableInputError(f"cannot write {args.output}: {exc.strerror}") from None
    print(
        f"vccore: {report.done:,} verified, {report.rejected:,} not verified; {report.seconds:.1f} s", file=sys.stderr
    )
    return EXIT_OK if report.rejected == 0 else EXIT_REFUSED


def _verifier(args: argparse.Namespace) -> Verifier:
    try:
        return Verifier.create(
            suites=args.suite or SUITES.keys(),
            contexts=_contexts(args.context, templates=args.templates),
            verification_methods=[m for path in args.trust for m in _read_trust(path)],
            trusted_issuers=args.issuer or None,
            status=args.status_dir,
            store=_verifier_store(args),
        )
    except VccoreError as exc:  # the verifier's own configuration, not the credential
        raise UnusableInputError(f"{exc.code}: {exc.message}") from None
    except ValueError as exc:  # an unreadable status folder
        raise UnusableInputError(str(exc)) from None


def _verifier_store(args: argparse.Namespace) -> Store | None:
    location = _store_location(args)
    if location is not None:
        return open_store(location, read_only=True)
    if args.home is not None and (args.home / "vccore.db").exists():
        return open_store(args.home / "vccore.db", read_only=True)
    return None
